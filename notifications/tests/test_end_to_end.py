"""From the API to the browser: a reminder written on a task through the task routes is pushed when
it falls due, and the task then reads it back as sent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.services import deliver_due_reminders
from notifications.tests.support import iso

pytestmark = pytest.mark.django_db


def test_a_reminder_written_through_the_api_reaches_the_browser(auth_client, user, push_service):
    browser = push_service.browser("laptop")
    assert (
        auth_client.post(
            f"/api/{user.pk}/push-subscriptions/", browser.subscription_json(), format="json"
        ).status_code
        == 201
    )
    now = timezone.now().replace(microsecond=0)
    due = now + timedelta(hours=2)
    created = auth_client.post(
        f"/api/{user.pk}/tasks/",
        {
            "title": "Pay rent",
            "due_date": iso(due),
            "reminders": [{"before": "PT1H"}, {"at": iso(now + timedelta(minutes=5))}],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    task = created.json()
    assert [r["state"] for r in task["reminders"]] == ["pending", "pending"]

    # Five minutes later the "at" reminder is due; the one an hour before the due date is not.
    deliver_due_reminders(now=now + timedelta(minutes=5, seconds=1))

    assert push_service.received["laptop"] == [
        {
            "type": "reminder",
            "task": {"id": task["id"], "title": "Pay rent", "due_date": iso(due)},
            "fire_at": iso(now + timedelta(minutes=5)),
        }
    ]
    reminders = auth_client.get(f"/api/{user.pk}/tasks/{task['id']}/").json()["reminders"]
    assert [r["state"] for r in reminders] == ["pending", "sent"]
    assert reminders[1]["sent_at"] is not None
    listed = auth_client.get(f"/api/{user.pk}/push-subscriptions/").json()
    assert listed[0]["last_success_at"] is not None
