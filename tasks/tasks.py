"""Background work of the tasks app, run by Celery workers (the schedule is in settings)."""

from celery import shared_task

from tasks.services import idempotency_keys_purge_expired


@shared_task(name="tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Hourly: stored Idempotency-Key responses past their 24 hours (API.md §4) are deleted."""
    return idempotency_keys_purge_expired()
