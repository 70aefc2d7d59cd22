"""The user: identified by the opaque id Better Auth gives it (the JWT `sub`)."""

import secrets
import string

from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

USER_ID_PATTERN = r"[A-Za-z0-9._~-]{1,128}"
USER_ID_ALPHABET = string.ascii_letters + string.digits


def new_user_id() -> str:
    """32 random alphanumerics: the shape Better Auth gives its own user ids."""
    return "".join(secrets.choice(USER_ID_ALPHABET) for _ in range(32))


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, id: str | None = None, email: str = "", password: str | None = None, **extra):
        user = self.model(id=id or new_user_id(), email=self.normalize_email(email), **extra)
        # No password means the account signs in through Better Auth only.
        user.set_password(password) if password else user.set_unusable_password()
        # The pk is set by us, not by the database: skip the UPDATE Django would try first.
        user.save(using=self._db, force_insert=True)
        return user

    def create_superuser(self, id: str | None = None, email: str = "", password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(id=id, email=email, password=password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person using the product. Created on the first valid token for an unknown `sub`
    (just-in-time), by standalone registration, or by `createsuperuser` for staff."""

    id = models.CharField(
        "user id",
        primary_key=True,
        max_length=128,
        validators=[RegexValidator(rf"^{USER_ID_PATTERN}\Z", "1 to 128 characters of A-Z a-z 0-9 . _ ~ -")],
        help_text="The opaque id from Better Auth (the token's sub).",
    )
    # Not unique: two Better Auth users may share an email. Password accounts are unique below.
    email = models.EmailField(blank=True, db_index=True)
    name = models.CharField(max_length=255, blank=True)
    is_active = models.BooleanField(default=True, help_text="Inactive users are refused by the API.")
    is_staff = models.BooleanField(default=False, help_text="Can log into the admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "id"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        constraints = [
            # One password account per email (case-insensitive): the login key of standalone mode.
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(password__startswith="!") & ~models.Q(email=""),
                name="unique_password_account_email",
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.id

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name or self.email


class DeletedUser(models.Model):
    """The id of a user staff deleted: a still-valid token for it must not bring the account back.

    Just-in-time provisioning would otherwise recreate a deleted user, silently, on the next request
    of a token issued before the deletion. A token naming a deleted id is refused (403
    account_disabled). Deleting this row in the admin lets the id be provisioned again.
    """

    id = models.CharField("user id", primary_key=True, max_length=128)
    deleted_at = models.DateTimeField(default=timezone.now)
    deleted_by = models.CharField(max_length=128, blank=True, help_text="The staff user who deleted it.")

    class Meta:
        verbose_name = "deleted user"

    def __str__(self) -> str:
        return self.id
