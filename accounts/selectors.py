"""Reads of users."""

from collections.abc import Iterable

from accounts.models import User


def password_account_find(*, login: str) -> User | None:
    """The password account for an email (case-insensitive) or a user id, or None.

    When nothing matches, a password is hashed anyway so that response time does not reveal
    which emails have accounts.
    """
    user = None
    if login:
        users = User.objects.exclude(password__startswith="!")
        user = users.filter(email__iexact=login).first() if "@" in login else users.filter(pk=login).first()
    if user is None:
        User().set_password("timing-equaliser")
    return user


def user_get(*, user_id: str) -> User:
    return User.objects.get(pk=user_id)


def user_find(*, user_id: str) -> User | None:
    return User.objects.filter(pk=user_id).first()


def user_ids_existing(*, user_ids: Iterable[str], chunk: int = 500) -> set[str]:
    """Which of these ids have an account (asked in chunks: SQLite bounds a statement's parameters)."""
    wanted = sorted(set(user_ids))
    existing: set[str] = set()
    for start in range(0, len(wanted), chunk):
        existing |= set(
            User.objects.filter(pk__in=wanted[start : start + chunk]).values_list("pk", flat=True)
        )
    return existing
