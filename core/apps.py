from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: the database backend, the API's middleware, HTTP helpers."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import checks  # noqa: F401  (registers the deploy checks)
