"""manage.py purge_tasks: delete a user's tasks and/or tasks completed before a date."""

from django.core.management.base import BaseCommand, CommandError

from tasks.management.commands._common import Progress, get_user, parse_date_arg
from tasks.operator_jobs import tasks_purge

BATCH_SIZE = 1000


class Command(BaseCommand):
    help = (
        "Delete tasks: those of --user, those completed before --completed-before (a date, midnight "
        "UTC, or an ISO date-time), or those matching both. One batch of 1000 per transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", metavar="ID", help="Only this user's tasks.")
        parser.add_argument(
            "--completed-before",
            type=parse_date_arg,
            metavar="DATE",
            help="Only tasks completed before DATE.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted, delete nothing."
        )

    def handle(self, *, user, completed_before, dry_run, verbosity, **options):
        if user is None and completed_before is None:
            raise CommandError("Give --user, --completed-before, or both (refusing to delete every task).")
        owner = get_user(user, "--user") if user is not None else None
        total = tasks_purge(user=owner, completed_before=completed_before, dry_run=True)
        deleted = total
        if not dry_run and total:
            progress = Progress(
                self.stderr, total, "purge_tasks", enabled=verbosity >= 1 and total > BATCH_SIZE
            )
            deleted = tasks_purge(
                user=owner,
                completed_before=completed_before,
                batch_size=BATCH_SIZE,
                on_batch=progress.advance,
            )
            progress.finish()
        if verbosity:
            verb = "Would delete" if dry_run else "Deleted"
            scope = []
            if owner is not None:
                scope.append(f"of user {owner.pk}")
            if completed_before is not None:
                scope.append(f"completed before {completed_before.isoformat()}")
            self.stdout.write(self.style.SUCCESS(f"{verb} {deleted} task(s) {' and '.join(scope)}."))
