"""Celery tasks: thin wrappers over notifications.services (docs/NOTIFICATIONS.md).

Beat runs `scan_due_reminders` every 15 seconds: it claims every due reminder (leases in the
database) and fans the claims out as `deliver_reminders` tasks, so that all workers share the
sending. Retries of a push are scheduled in the database (the delivery's `next_attempt_at`, the
reminder's lease), not held in a worker; a delivery task itself is retried only when the database
is briefly away, and a claim nobody finishes comes back to the next scan when its lease runs out.
"""

import logging
from datetime import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError

from notifications import services

logger = logging.getLogger(__name__)

# A scan's upper bound, so that one run cannot hold a worker for ever behind a huge backlog.
SCAN_MAX_REMINDERS = 50_000


@shared_task(name="notifications.scan_due_reminders", ignore_result=True)
def scan_due_reminders() -> int:
    """Claim the due reminders and queue their delivery; returns how many were claimed."""
    claimed = 0
    while claimed < SCAN_MAX_REMINDERS:
        claim = services.reminders_claim_due()
        if claim is None:
            break
        claimed += len(claim.reminder_ids)
        for start in range(0, len(claim.reminder_ids), services.DELIVERY_BATCH):
            ids = claim.reminder_ids[start : start + services.DELIVERY_BATCH]
            deliver_reminders.delay(ids, claim.token.isoformat())
    if claimed:
        logger.info("Claimed %d due reminders", claimed)
    return claimed


@shared_task(
    name="notifications.deliver_reminders",
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=30,
    max_retries=5,
)
def deliver_reminders(reminder_ids: list, token: str) -> None:
    """Push a claimed batch. Input that is not a claim (bad ids, a bad token) is logged and dropped:
    it must not block the queue, and the reminders it names come back with the next scan anyway."""
    try:
        ids = [int(reminder_id) for reminder_id in reminder_ids][: services.CLAIM_BATCH]
        claim = services.Claim(ids, datetime.fromisoformat(token))
    except (TypeError, ValueError):
        logger.error("Dropped a malformed delivery task: %r %r", reminder_ids, token)
        return
    report = services.reminders_deliver(claim=claim)
    logger.info(
        "Reminders: %d sent, %d failed, %d waiting to retry; pushes %s",
        report.reminders_sent,
        report.reminders_failed,
        report.reminders_waiting,
        dict(report.pushes),
    )
