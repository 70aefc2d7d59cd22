from django.apps import AppConfig
from django.db import models


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        # Registers the OpenAPI description of the Better Auth bearer scheme.
        import core.schema  # noqa: F401
        from accounts.models import User
        from accounts.user_cache import forget_user_on_change

        # Any save or delete of a user, by any path (services, the admin's forms, commands), drops
        # it from every process's cache of authenticated users.
        models.signals.post_save.connect(forget_user_on_change, sender=User, dispatch_uid="user-cache-save")
        models.signals.post_delete.connect(
            forget_user_on_change, sender=User, dispatch_uid="user-cache-delete"
        )

        # Registers the deployment checks on Better Auth's issuer and audience.
        from accounts import checks  # noqa: F401
