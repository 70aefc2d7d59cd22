from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Web Push subscriptions and the delivery of due reminders (docs/NOTIFICATIONS.md)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
