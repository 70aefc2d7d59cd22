from django.apps import AppConfig


class WebConfig(AppConfig):
    """The pages the monolith serves itself: sign-in, registration and the task page."""

    name = "web"
    verbose_name = "Web pages"
