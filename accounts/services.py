"""Every write to users: just-in-time provisioning, registration, activation."""

import logging
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from rest_framework import exceptions

from accounts.models import DeletedUser, User
from accounts.refresh import refresh_tokens_revoke_all

logger = logging.getLogger(__name__)


class AccountDeleted(exceptions.PermissionDenied):
    """A token names a user staff deleted (accounts.models.DeletedUser)."""

    default_detail = "This account has been deleted."
    default_code = "account_disabled"


NAME_MAX_LENGTH = User._meta.get_field("name").max_length
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length


def _has_unstorable_characters(value: str) -> bool:
    # Control characters (NUL is refused by PostgreSQL) and lone surrogates, which JSON allows
    # ("\ud800") but UTF-8 cannot encode, so neither database driver accepts them.
    return any(unicodedata.category(char) in {"Cc", "Cs"} for char in value)


def _claim_email(claims: dict[str, Any]) -> str | None:
    """The token's email when it is a usable one; anything else is ignored, never stored."""
    email = claims.get("email")
    if not isinstance(email, str) or len(email) > EMAIL_MAX_LENGTH or _has_unstorable_characters(email):
        return None
    try:
        validate_email(email)
    except ValidationError:
        return None
    return User.objects.normalize_email(email)


def _claim_name(claims: dict[str, Any]) -> str | None:
    name = claims.get("name")
    if not isinstance(name, str) or _has_unstorable_characters(name):
        return None
    return name.strip()[:NAME_MAX_LENGTH]


def user_sync_from_claims(*, claims: dict[str, Any]) -> User:
    """The user a verified token names, created on first sight and kept current from its claims.

    A known user whose email and name are unchanged costs one query.
    """
    user_id = claims["sub"]
    email, name = _claim_email(claims), _claim_name(claims)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        if DeletedUser.objects.filter(pk=user_id).exists():
            raise AccountDeleted()
        try:
            with transaction.atomic():
                return User.objects.create_user(id=user_id, email=email or "", name=name or "")
        except IntegrityError:  # another request provisioned the same user a moment ago
            user = User.objects.get(pk=user_id)
    changes = {
        field: value
        for field, value in (("email", email), ("name", name))
        if value is not None and getattr(user, field) != value
    }
    if changes:
        try:
            with transaction.atomic():
                User.objects.filter(pk=user.pk).update(**changes)
        except IntegrityError:
            # The new email is another password account's, and a password account's email is its
            # standalone login, unique. Keep the old email rather than fail the request.
            logger.warning("Not changing user %s's email: another password account has it.", user.pk)
            changes.pop("email", None)
            if changes:
                User.objects.filter(pk=user.pk).update(**changes)
        for field, value in changes.items():
            setattr(user, field, value)
    return user


@transaction.atomic
def user_register(*, email: str, password: str, name: str = "") -> User:
    """A standalone-mode password account. Raises ValidationError keyed by field."""
    email = User.objects.normalize_email(email)
    if User.objects.filter(email__iexact=email).exclude(password__startswith="!").exists():
        raise ValidationError({"email": ["An account with this email already exists."]})
    candidate = User(email=email, name=name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, name=name, password=password)
    except IntegrityError:  # registered concurrently with the same email
        raise ValidationError({"email": ["An account with this email already exists."]}) from None


@transaction.atomic
def user_set_active(*, user: User, active: bool) -> User:
    """Deactivate or reactivate a user; a deactivated user's tokens are refused at once, and their
    refresh tokens are spent (reactivation does not bring them back)."""
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
    if not active:
        refresh_tokens_revoke_all(user=user)
    return user


@transaction.atomic
def user_delete(*, user: User, deleted_by: User | None = None) -> None:
    """Delete a user and their tasks, and keep their id as a tombstone so that a token issued before
    the deletion cannot provision the account again."""
    DeletedUser.objects.update_or_create(
        pk=user.pk, defaults={"deleted_by": deleted_by.pk if deleted_by is not None else ""}
    )
    user.delete()


def users_create_external(*, user_ids: Iterable[str]) -> None:
    """Accounts for these ids that sign in through Better Auth only (an unusable password), such as
    the owners an import brings in. Joins the caller's transaction."""
    password = make_password(None)  # one hash for all; unusable, so no password sign-in
    User.objects.bulk_create([User(id=user_id, password=password) for user_id in sorted(user_ids)])
