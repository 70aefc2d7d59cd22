"""Background work of the accounts app, run by Celery workers (the schedule is in settings)."""

from celery import shared_task
from django.core.management import call_command


@shared_task(name="accounts.flush_expired_tokens")
def flush_expired_tokens() -> None:
    """Daily: SimpleJWT's own clean-up of refresh-token records past their expiry."""
    call_command("flushexpiredtokens", verbosity=0)
