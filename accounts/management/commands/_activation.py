"""The shared body of deactivate_user and reactivate_user."""

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import user_find
from accounts.services import user_set_active


class SetActiveCommand(BaseCommand):
    active: bool

    def add_arguments(self, parser):
        parser.add_argument("user_id", help="The user id (the token's sub).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change, change nothing.")

    def handle(self, *, user_id, dry_run, verbosity, **options):
        user = user_find(user_id=user_id)
        if user is None:
            raise CommandError(f"No user with id {user_id!r}.")
        state = "active" if self.active else "deactivated"
        if user.is_active == self.active:
            if verbosity:
                self.stdout.write(self.style.SUCCESS(f"User {user.pk} is already {state}; nothing to do."))
            return
        if not dry_run:
            user_set_active(user=user, active=self.active)
        if verbosity:
            verb = (
                ("Would reactivate" if dry_run else "Reactivated")
                if self.active
                else ("Would deactivate" if dry_run else "Deactivated")
            )
            effect = "" if self.active else " (their tokens are refused from now on)"
            self.stdout.write(self.style.SUCCESS(f"{verb} user {user.pk} <{user.email}>{effect}."))
