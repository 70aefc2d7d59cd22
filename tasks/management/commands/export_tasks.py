"""manage.py export_tasks: every task (or one user's) as JSON lines or CSV, for import_tasks."""

import sys

from django.core.management.base import BaseCommand, CommandError

from tasks.management.commands._common import Progress, get_user
from tasks.models import Task
from tasks.transfer import FORMATS, Writer, task_record

BATCH_SIZE = 2000


class Command(BaseCommand):
    help = (
        "Write tasks with every field, their tags and timestamps, as JSON lines (default) or CSV. "
        "import_tasks reads the file back."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", metavar="ID", help="Only this user's tasks.")
        parser.add_argument(
            "--format", choices=FORMATS, help="jsonl or csv (default: from -o's extension, else jsonl)."
        )
        parser.add_argument("-o", "--output", metavar="FILE", help="Write here instead of stdout.")

    def handle(self, *, user, format, output, verbosity, **options):
        file_format = format or ("csv" if output and output.lower().endswith(".csv") else "jsonl")
        queryset = Task.objects.all()
        if user is not None:
            queryset = queryset.owned_by(get_user(user, "--user"))
        try:
            stream = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}.") from None
        total = queryset.count() if output else 0
        progress = Progress(
            self.stderr, total, "export_tasks", enabled=bool(output) and verbosity >= 1 and total > BATCH_SIZE
        )
        written = 0
        try:
            writer = Writer(stream if output else self.stdout._out, file_format)
            last = 0
            while True:
                # Keyset batches: each is one indexed range read plus one query for its tags.
                batch = list(queryset.filter(pk__gt=last).order_by("pk").with_tags()[:BATCH_SIZE])
                if not batch:
                    break
                for task in batch:
                    writer.write(task_record(task))
                written += len(batch)
                last = batch[-1].pk
                progress.advance(len(batch))
        finally:
            if output:
                stream.close()
        progress.finish()
        if verbosity and output:
            self.stdout.write(self.style.SUCCESS(f"Exported {written} task(s) to {output} ({file_format})."))
        elif verbosity:
            self.stderr.write(self.style.SUCCESS(f"Exported {written} task(s) ({file_format})."))
