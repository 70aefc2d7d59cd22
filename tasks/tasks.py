"""Background jobs of the tasks app: thin Celery wrappers around services (the schedule is in
settings; docs/ARCHITECTURE.md)."""

from celery import shared_task

from tasks import services


@shared_task(name="tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Hourly: stored Idempotency-Key responses past their 24 hours (API.md §4) are deleted."""
    return services.idempotency_keys_purge_expired()


@shared_task(name="tasks.purge_tombstones", ignore_result=True)
def purge_tombstones() -> int:
    """Daily: forget the change feed's tombstones older than SYNC_TOMBSTONE_DAYS (docs/SYNC.md)."""
    return services.tombstones_purge()
