"""Web Push subscriptions and the per-subscription delivery record of each due reminder.

The reminders themselves are `tasks.Reminder` (written by the task services); this app sends them
(services.py) and keeps, per (reminder, subscription), what the push service answered, so that
retries are per subscription and staff see the failures (docs/NOTIFICATIONS.md).
"""

from django.conf import settings
from django.db import models

from tasks.models import Reminder

# RFC 8030 endpoints are URLs the push service hands the browser; real ones are 100-500 characters.
MAX_ENDPOINT_LENGTH = 2048
MAX_SUBSCRIPTIONS_PER_USER = 20


class PushSubscription(models.Model):
    """A browser's `PushSubscription.toJSON()`: where to push, and the keys to encrypt for it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    endpoint = models.CharField(max_length=MAX_ENDPOINT_LENGTH)
    p256dh = models.CharField(max_length=88, help_text="base64url P-256 public key of the browser.")
    auth = models.CharField(max_length=24, help_text="base64url 16-byte authentication secret.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "endpoint"], name="push_subscription_unique_endpoint"),
        ]

    def __str__(self) -> str:
        return self.endpoint[:80]


class DeliveryState(models.TextChoices):
    PENDING = "pending"  # not tried yet, or waiting for its next try (next_attempt_at)
    SENT = "sent"  # the push service accepted it (2xx)
    GONE = "gone"  # 404/410: the subscription has expired and was removed
    FAILED = "failed"  # another 4xx, or 5 tries without success


class ReminderDelivery(models.Model):
    """One reminder to one subscription: its tries and what the push service last answered."""

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="deliveries")
    # SET_NULL: a removed subscription (410, or deleted by its user) keeps its record for staff.
    subscription = models.ForeignKey(PushSubscription, on_delete=models.SET_NULL, null=True, blank=True)
    endpoint_origin = models.CharField(max_length=300, help_text="The push service, for staff.")
    state = models.CharField(max_length=8, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The push service's last HTTP status; empty after a network error."
    )
    last_error = models.CharField(max_length=300, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "reminder deliveries"
        constraints = [
            models.UniqueConstraint(fields=["reminder", "subscription"], name="delivery_unique_subscription"),
        ]
        indexes = [
            models.Index(
                fields=["-updated_at"], name="delivery_failed", condition=models.Q(state=DeliveryState.FAILED)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_origin} ({self.state})"
