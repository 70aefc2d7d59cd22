"""Background work of the tasks app, run by Celery workers (the schedule is in settings)."""

from celery import shared_task

from tasks import services


@shared_task(name="tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Hourly: stored Idempotency-Key responses past their 24 hours (API.md §4) are deleted."""
    return services.idempotency_keys_purge_expired()


@shared_task(name="tasks.purge_tombstones")
def purge_tombstones() -> int:
    """Daily: the change feed's tombstones older than SYNC_TOMBSTONE_DAYS are forgotten, and each
    user's purge horizon is raised (API.md §8, docs/SYNC.md)."""
    return services.tombstones_purge()
