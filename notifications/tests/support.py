"""Helpers of the delivery tests: due reminders and subscribed browsers."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from notifications.models import PushSubscription
from notifications.services import push_subscription_save
from notifications.tests.push_service import FakeBrowser
from tasks.models import Reminder, ReminderState
from tasks.tests.factories import TaskFactory


def due_reminder(
    user, *, seconds_ago: float = 1, title: str = "Call the dentist", state=ReminderState.PENDING
) -> Reminder:
    """A task due in an hour with a reminder at a fixed time `seconds_ago` (negative: ahead)."""
    fire_at = timezone.now() - timedelta(seconds=seconds_ago)
    task = TaskFactory(user=user, title=title, due_date=fire_at + timedelta(hours=1))
    return Reminder.objects.create(task=task, user=user, position=0, at=fire_at, fire_at=fire_at, state=state)


def subscribe(user, browser: FakeBrowser) -> PushSubscription:
    subscription, _ = push_subscription_save(
        user=user, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth
    )
    return subscription


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def expected_payload(reminder: Reminder) -> dict:
    task = reminder.task
    return {
        "type": "reminder",
        "task": {"id": task.pk, "title": task.title, "due_date": iso(task.due_date)},
        "fire_at": iso(reminder.fire_at),
    }


def expected_payload_dict(seeded: dict, title: str) -> dict:
    """The payload of a reminder seeded in another process (ids and dates as it printed them)."""
    from datetime import datetime

    return {
        "type": "reminder",
        "task": {
            "id": seeded["task"],
            "title": title,
            "due_date": iso(datetime.fromisoformat(seeded["due_date"])),
        },
        "fire_at": iso(datetime.fromisoformat(seeded["fire_at"])),
    }
