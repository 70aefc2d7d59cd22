"""Background jobs of the tasks app: thin Celery wrappers around services (docs/ARCHITECTURE.md)."""

from celery import shared_task

from tasks import services


@shared_task(name="tasks.purge_tombstones", ignore_result=True)
def purge_tombstones() -> int:
    """Daily: forget the change feed's tombstones older than SYNC_TOMBSTONE_DAYS (docs/SYNC.md)."""
    return services.tombstones_purge()
