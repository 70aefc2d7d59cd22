"""Celery tasks: thin wrappers over notifications.services (docs/NOTIFICATIONS.md).

Beat publishes `scan_due_reminders` every 15 seconds. It only looks at how many reminders are due
and starts up to SCAN_FANOUT `deliver_due_reminders` tasks, which pull the work themselves: each
claims a batch (a lease in the database), delivers it, and claims the next, until nothing is due or
its time budget is spent (then it queues itself again). Claims are made by the worker that is about
to deliver them, so no claim waits in the queue while its lease runs out, and the workers share the
load by pulling. Retries of a push are scheduled in the database (the delivery's
`next_attempt_at`, the reminder's lease), not held in a worker; the task itself is retried only
when the database is briefly away, and a claim nobody finishes comes back to a later scan when its
lease runs out.
"""

import logging
import math

from celery import shared_task
from django.db import InterfaceError, OperationalError

from notifications import services

logger = logging.getLogger(__name__)

# Delivery tasks one scan starts at most: enough for every worker process to pull at once.
SCAN_FANOUT = 8
# Seconds a delivery task keeps pulling before it hands over to a fresh task (well inside
# CELERY_TASK_SOFT_TIME_LIMIT, and fair to other tasks on the queue).
DELIVERY_TIME_BUDGET = 20.0


@shared_task(name="notifications.scan_due_reminders", ignore_result=True)
def scan_due_reminders() -> int:
    """Start delivery tasks for what is due now; returns how many were started."""
    due = services.reminders_due_count(cap=SCAN_FANOUT * services.DELIVERY_BATCH)
    started = min(SCAN_FANOUT, math.ceil(due / services.DELIVERY_BATCH))
    for _ in range(started):
        deliver_due_reminders.delay()
    if started:
        logger.info(
            "%s%d reminders due; started %d delivery tasks",
            "at least " * (started == SCAN_FANOUT),
            due,
            started,
        )
    return started


@shared_task(
    name="notifications.deliver_due_reminders",
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=30,
    max_retries=5,
)
def deliver_due_reminders(*args, **kwargs) -> None:
    """Claim and deliver due reminders until none is left or the time budget is spent. Takes no
    input (any given is ignored), so no message can poison it; a reminder that breaks delivery is
    failed on its own (services._deliver_isolating)."""
    report = services.deliver_due_reminders(time_budget=DELIVERY_TIME_BUDGET)
    if report.reminders_sent or report.reminders_failed or report.reminders_waiting:
        logger.info(
            "Reminders: %d sent, %d failed, %d waiting to retry; pushes %s",
            report.reminders_sent,
            report.reminders_failed,
            report.reminders_waiting,
            dict(report.pushes),
        )
    if report.more:
        deliver_due_reminders.delay()
