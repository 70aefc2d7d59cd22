"""manage.py reassign_tasks: move one user's tasks and tags to another (accounts merged in Better Auth)."""

from django.core.management.base import BaseCommand, CommandError

from tasks.management.commands._common import get_user
from tasks.operator_jobs import tasks_reassign


class Command(BaseCommand):
    help = (
        "Move every task of --from-user to --to-user in one transaction. A tag whose name the "
        "target already has is merged into the target's tag; the other tags change owner."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from-user", required=True, metavar="ID", help="The user whose tasks move.")
        parser.add_argument("--to-user", required=True, metavar="ID", help="The user who receives them.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would move, change nothing.")

    def handle(self, *, from_user, to_user, dry_run, verbosity, **options):
        if from_user == to_user:
            raise CommandError("--from-user and --to-user are the same user.")
        source, target = get_user(from_user, "--from-user"), get_user(to_user, "--to-user")
        result = tasks_reassign(source=source, target=target, dry_run=dry_run)
        if verbosity:
            verb = "Would move" if dry_run else "Moved"
            self.stdout.write(
                self.style.SUCCESS(
                    f"{verb} {result.tasks} task(s) from {source.pk} to {target.pk}: "
                    f"{result.tags_moved} tag(s) moved, {result.tags_merged} merged into the target's."
                )
            )
