"""manage.py reactivate_user: accept a deactivated user's tokens again."""

from accounts.management.commands._activation import SetActiveCommand


class Command(SetActiveCommand):
    help = "Reactivate a deactivated user: their valid tokens are accepted again."
    active = True
