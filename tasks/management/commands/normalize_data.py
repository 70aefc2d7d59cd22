"""manage.py normalize_data: repair rows the API's rules forbid (old data, hand edits, imports)."""

from django.core.management.base import BaseCommand

from tasks.operator_jobs import data_normalize


class Command(BaseCommand):
    help = (
        "Trim task titles, fix tag names and keys (merging a user's tags that turn out to be the "
        "same name), and make completed and completed_at agree. Reports each count. Every changed "
        "task gets a new version and updated_at, so clients see the change."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would change, change nothing.")

    def handle(self, *, dry_run, verbosity, **options):
        result = data_normalize(dry_run=dry_run)
        if verbosity:
            verb = "Would fix" if dry_run else "Fixed"
            lines = [
                f"titles trimmed: {result.titles_trimmed}",
                f"tags renamed: {result.tags_renamed}",
                f"duplicate tags merged: {result.tags_merged}",
                f"completed/completed_at disagreements fixed: {result.completion_fixed}",
            ]
            for line in lines:
                self.stdout.write(f"  {line}")
            total = result.titles_trimmed + result.tags_renamed + result.tags_merged + result.completion_fixed
            self.stdout.write(self.style.SUCCESS(f"{verb} {total} problem(s)."))
