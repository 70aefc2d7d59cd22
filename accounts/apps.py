from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        # Registers the OpenAPI description of the Better Auth bearer scheme.
        import todo_project.schema  # noqa: F401

        # Registers the deployment checks on Better Auth's issuer and audience.
        from accounts import checks  # noqa: F401
