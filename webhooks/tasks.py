"""Celery entry points of webhooks: thin wrappers of webhooks.services (docs/WEBHOOKS.md).

Beat runs `webhooks.dispatch` and `webhooks.deliver` every few seconds as the safety net; a
dispatch that made messages kicks a delivery at once.
"""

from celery import shared_task

from core.queue import enqueue
from webhooks import services


@shared_task(name="webhooks.dispatch", ignore_result=True)
def dispatch() -> int:
    """Outbox events → messages; then deliver them without waiting for the next beat."""
    count = services.webhooks_dispatch()
    if count:
        enqueue(deliver)  # never fails the dispatch: the beat's deliver is the safety net
    return count


@shared_task(name="webhooks.deliver", ignore_result=True)
def deliver() -> int:
    """Due messages; when some were left (a backlog), queue another run at once."""
    report = services.webhooks_deliver()
    if report.more:
        enqueue(deliver)
    return report.delivered


@shared_task(name="webhooks.purge", ignore_result=True)
def purge() -> int:
    return services.webhooks_purge()
