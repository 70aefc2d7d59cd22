"""manage.py purge_idempotency_keys: delete stored idempotent responses older than 24 hours."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from tasks.models import IdempotencyKey
from tasks.services import IDEMPOTENCY_TTL, idempotency_keys_purge_expired


class Command(BaseCommand):
    help = (
        "Delete the stored responses of Idempotency-Key requests older than 24 hours (the API no "
        "longer replays them). Run it daily, e.g. from a scheduler."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted, delete nothing."
        )

    def handle(self, *, dry_run, verbosity, **options):
        if dry_run:
            count = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_TTL).count()
        else:
            count = idempotency_keys_purge_expired()
        if verbosity:
            verb = "Would delete" if dry_run else "Deleted"
            self.stdout.write(self.style.SUCCESS(f"{verb} {count} expired idempotency key(s)."))
