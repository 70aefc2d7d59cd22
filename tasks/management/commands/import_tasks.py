"""manage.py import_tasks: read an export_tasks file back, all or nothing, skipping what exists."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.selectors import user_ids_existing
from accounts.services import users_create_external
from tasks.management.commands._common import get_user
from tasks.operator_jobs import tasks_import
from tasks.transfer import FORMATS, BadRow, parse_record, read_records

MAX_REPORTED = 20


class Command(BaseCommand):
    help = (
        "Import tasks from an export_tasks file (JSON lines or CSV). Every row is checked first; "
        "bad rows are reported by line number and nothing of a failed file is written. A task "
        "already present (same owner, created_at and title) is skipped, so a second import of "
        "the same file creates nothing. Without --user, tasks keep their exported ids when free."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The file to import.")
        parser.add_argument("--user", metavar="ID", help="Import every row as this user's task.")
        parser.add_argument("--format", choices=FORMATS, help="jsonl or csv (default: from the extension).")
        parser.add_argument(
            "--create-users",
            action="store_true",
            help="Create owners that do not exist yet (no password; they sign in through Better Auth).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check the file and count, write nothing.")

    def handle(self, *, file, user, format, create_users, dry_run, verbosity, **options):
        path = Path(file)
        file_format = format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
        owner = get_user(user, "--user") if user is not None else None
        try:
            stream = path.open(encoding="utf-8", newline="")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None

        rows, errors = [], []
        with stream:
            try:
                for line, record in read_records(stream, file_format):
                    try:
                        if isinstance(record, BadRow):
                            raise record
                        rows.append(parse_record(record, line, user_id=owner.pk if owner else None))
                    except BadRow as error:
                        errors.append(f"line {line}: {error}")
            except UnicodeDecodeError:
                raise CommandError(f"{file} is not UTF-8 text.") from None

        ids = [row.id for row in rows if row.id is not None]
        if owner is None and len(ids) != len(set(ids)):
            seen = set()
            for row in rows:
                if row.id is not None and row.id in seen:
                    errors.append(f"line {row.line}: id {row.id} appears twice in the file.")
                seen.add(row.id)
        owner_ids = {row.user_id for row in rows}
        unknown = owner_ids - user_ids_existing(user_ids=owner_ids)
        if unknown and not create_users:
            for row in rows:
                if row.user_id in unknown:
                    errors.append(
                        f"line {row.line}: no user {row.user_id!r} (use --create-users to create owners)."
                    )
        if errors:
            errors.sort(key=lambda message: int(message.split(":")[0].split()[1]))
            shown = "\n".join(errors[:MAX_REPORTED])
            more = f"\n... and {len(errors) - MAX_REPORTED} more." if len(errors) > MAX_REPORTED else ""
            raise CommandError(f"{len(errors)} bad row(s) in {file}; nothing was imported.\n{shown}{more}")

        with transaction.atomic():  # the new owners too: nothing of a failed file stays
            if unknown and not dry_run:
                users_create_external(user_ids=unknown)
            result = tasks_import(rows=rows, keep_ids=owner is None, dry_run=dry_run)
        if verbosity:
            verb = "Would import" if dry_run else "Imported"
            created_users = (
                f", {'would create' if dry_run else 'created'} {len(unknown)} user(s)" if unknown else ""
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"{verb} {result.created} task(s), skipped {result.skipped} already present"
                    f"{created_users}, from {len(rows)} row(s) of {file}."
                )
            )
