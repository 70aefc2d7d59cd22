"""manage.py deactivate_user: refuse a user's tokens from now on (403 account_disabled)."""

from accounts.management.commands._activation import SetActiveCommand


class Command(SetActiveCommand):
    help = "Deactivate a user: every request with their tokens is refused with 403 account_disabled."
    active = False
