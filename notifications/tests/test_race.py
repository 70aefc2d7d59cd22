"""Workers racing over the same due reminders on PostgreSQL: every push is received exactly once."""

import threading

import pytest
from django.db import connection

from accounts.tests.factories import UserFactory
from notifications.services import deliver_due_reminders
from notifications.tests.support import due_reminder, expected_payload, subscribe
from tasks.models import Reminder, ReminderState
from tasks.tests.api_support import postgres_only


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_scanning_at_once_push_each_reminder_once(push_service):
    users = [UserFactory() for _ in range(20)]
    for n, user in enumerate(users):
        subscribe(user, push_service.browser(f"b{n}"))
    reminders = [due_reminder(users[n % len(users)], title=f"R{n}") for n in range(300)]
    push_service.delay_seconds = 0.002  # a push service that takes a moment, so the scans overlap
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def worker():
        try:
            barrier.wait()
            reports.append(deliver_due_reminders())
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert all(report.reminders_sent > 0 for report in reports), "both workers did part of the work"
    assert sum(report.reminders_sent for report in reports) == len(reminders)
    assert not Reminder.objects.exclude(state=ReminderState.SENT).exists()
    received = [payload for payloads in push_service.received.values() for payload in payloads]
    assert sorted(received, key=lambda p: p["task"]["id"]) == sorted(
        (expected_payload(r) for r in reminders), key=lambda p: p["task"]["id"]
    )
