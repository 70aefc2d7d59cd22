"""Reads of users."""

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
