"""`manage.py generate_vapid_keys [--env]`: a new VAPID key pair for Web Push."""

from django.core.management.base import BaseCommand

from notifications.vapid import generate_private_key


class Command(BaseCommand):
    help = "Print a new VAPID key pair (base64url, as web-push tools print them)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--env",
            action="store_true",
            help="Print WEBPUSH_VAPID_PRIVATE_KEY=... (an environment file line) instead.",
        )

    def handle(self, *args, **options):
        private, public = generate_private_key()
        if options["env"]:
            self.stdout.write(f"WEBPUSH_VAPID_PRIVATE_KEY={private}")
            return
        self.stdout.write(f"Public key (the browser's applicationServerKey): {public}")
        self.stdout.write(f"Private key (WEBPUSH_VAPID_PRIVATE_KEY): {private}")
