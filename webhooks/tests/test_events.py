"""Every event type end to end: an API write (or the reminder worker's call) → the outbox →
dispatch → a signed POST to a real receiver (API.md §9)."""

from datetime import timedelta

import orjson
import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook

from core.tests.support import bearer_client
from tasks import services as task_services
from tasks.models import Reminder, Task, TaskEvent
from tasks.tests.api_support import create_task, tasks_url
from webhooks import services
from webhooks.tests.support import create_webhook, webhooks_url

ALL = ["task.created", "task.updated", "task.completed", "task.deleted", "reminder.due"]


def flush() -> None:
    """What the workers do: dispatch the outbox, then deliver."""
    services.webhooks_dispatch()
    services.webhooks_deliver()


def received(secret, receiver) -> list[dict]:
    return [StandardWebhook(secret).verify(hit.body, hit.headers) for hit in receiver.hits]


@pytest.fixture
def hook(auth_client, user, allow_private, receiver):
    return create_webhook(auth_client, user.pk, receiver.url, ALL)


def test_each_task_event_from_api_writes(auth_client, user, hook, receiver):
    task = create_task(auth_client, user.pk, title="Buy milk", tags=["home"])
    updated = auth_client.patch(tasks_url(user.pk, task["id"]), {"title": "Buy oat milk"}, format="json")
    assert updated.status_code == 200
    completed = auth_client.patch(
        tasks_url(user.pk, task["id"], "complete"), {"completed": True}, format="json"
    )
    assert completed.status_code == 200
    assert auth_client.delete(tasks_url(user.pk, task["id"])).status_code == 204
    flush()
    payloads = received(hook["secret"], receiver)
    assert [p["type"] for p in payloads] == ["task.created", "task.updated", "task.completed", "task.deleted"]
    assert payloads[-1]["data"] == {"id": task["id"]}
    # Dispatched after the delete: the task is gone, so the earlier events carry its id.
    assert all(p["data"]["id"] == task["id"] for p in payloads)
    assert len({hit.headers["webhook-id"] for hit in receiver.hits}) == 4


def test_data_is_the_task_as_the_routes_return_it(auth_client, user, hook, receiver):
    task = create_task(
        auth_client, user.pk, title="Café ☕", tags=["b", "A"], due_date="2026-12-24T18:00:00+01:00"
    )
    flush()
    [payload] = received(hook["secret"], receiver)
    assert payload["type"] == "task.created"
    assert payload["data"] == auth_client.get(tasks_url(user.pk, task["id"])).json()
    assert payload["timestamp"].endswith("Z")


def test_completion_from_a_put_is_task_completed(auth_client, user, hook, receiver):
    task = create_task(auth_client, user.pk)
    flush()
    auth_client.put(tasks_url(user.pk, task["id"]), {"title": "Task", "completed": True}, format="json")
    auth_client.put(tasks_url(user.pk, task["id"]), {"title": "Task", "completed": False}, format="json")
    flush()
    payloads = received(hook["secret"], receiver)
    assert [p["type"] for p in payloads] == ["task.created", "task.completed", "task.updated"]
    assert payloads[1]["data"]["completed"] is False  # the state when dispatched; version orders them


def test_bulk_and_admin_writes_count_too(auth_client, user, hook, receiver):
    first = create_task(auth_client, user.pk)
    second = create_task(auth_client, user.pk)
    response = auth_client.post(
        tasks_url(user.pk, "bulk"), {"action": "delete", "ids": [first["id"], second["id"]]}, format="json"
    )
    assert response.status_code == 200
    flush()
    deleted = sorted(
        p["data"]["id"] for p in received(hook["secret"], receiver) if p["type"] == "task.deleted"
    )
    assert deleted == sorted([first["id"], second["id"]])


def test_a_rolled_back_write_sends_nothing(auth_client, user, hook, receiver):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        task_services.task_create(user=user, title="Never")
        raise Boom
    flush()
    assert receiver.hits == []
    assert not TaskEvent.objects.exists()


def test_a_write_that_changes_nothing_sends_nothing(auth_client, user, hook, receiver):
    task = create_task(auth_client, user.pk)
    flush()
    auth_client.patch(tasks_url(user.pk, task["id"], "complete"), {"completed": False}, format="json")
    flush()
    assert len(receiver.hits) == 1


def test_without_a_webhook_no_event_is_recorded(auth_client, user, other_user, allow_private, receiver):
    create_task(auth_client, user.pk)
    assert not TaskEvent.objects.exists()
    theirs = create_webhook(bearer_client(other_user), other_user.pk, receiver.url, ALL)
    create_task(auth_client, user.pk)
    assert not TaskEvent.objects.filter(user_id=user.pk).exists()
    create_task(bearer_client(other_user), other_user.pk)
    flush()
    assert [p["data"]["user_id"] for p in received(theirs["secret"], receiver)] == [other_user.pk]


def test_deleting_the_last_webhook_stops_recording(auth_client, user, hook, receiver):
    auth_client.delete(webhooks_url(user.pk, hook["id"]))
    create_task(auth_client, user.pk)
    assert not TaskEvent.objects.exists()


def test_events_only_to_subscribed_webhooks(auth_client, user, allow_private, receiver_factory):
    deletes = receiver_factory()
    creates = receiver_factory()
    delete_hook = create_webhook(auth_client, user.pk, deletes.url, ["task.deleted"])
    create_webhook(auth_client, user.pk, creates.url, ["task.created"])
    task = create_task(auth_client, user.pk)
    auth_client.delete(tasks_url(user.pk, task["id"]))
    flush()
    assert [p["type"] for p in received(delete_hook["secret"], deletes)] == ["task.deleted"]
    assert [orjson.loads(hit.body)["type"] for hit in creates.hits] == ["task.created"]


def test_reminder_due_is_published_with_the_task_and_reminder(auth_client, user, hook, receiver):
    task = create_task(auth_client, user.pk, due_date="2026-12-24T18:00:00Z")
    flush()
    fire_at = timezone.now() - timedelta(seconds=1)
    reminder = Reminder.objects.create(
        task_id=task["id"], user=user, position=0, before="", at=fire_at, fire_at=fire_at
    )
    with transaction.atomic():
        assert services.reminder_due_publish(reminder=reminder) is True
    flush()
    payload = received(hook["secret"], receiver)[-1]
    assert payload["type"] == "reminder.due"
    assert payload["data"]["id"] == task["id"] and payload["data"]["title"] == task["title"]
    assert payload["data"]["reminder"]["position"] == 0
    assert payload["data"]["reminder"]["fire_at"] == fire_at.isoformat().replace("+00:00", "Z")


def test_reminder_due_without_webhooks_records_nothing(auth_client, user):
    task = create_task(auth_client, user.pk, due_date="2026-12-24T18:00:00Z")
    now = timezone.now()
    reminder = Reminder.objects.create(
        task_id=task["id"], user=user, position=0, before="", at=now, fire_at=now
    )
    assert services.reminder_due_publish(reminder=reminder) is False
    assert not TaskEvent.objects.exists()


def test_dispatch_is_once(auth_client, user, hook, receiver):
    create_task(auth_client, user.pk)
    assert services.webhooks_dispatch() == 1
    assert services.webhooks_dispatch() == 0
    services.webhooks_deliver()
    assert len(receiver.hits) == 1


def test_a_disabled_webhook_stops_recording(auth_client, user, hook):
    webhook = services.Webhook.objects.get(pk=hook["id"])
    webhook.failing_since = timezone.now()
    services.webhook_disable(webhook=webhook, at=timezone.now())
    create_task(auth_client, user.pk)
    assert not TaskEvent.objects.exists()
    assert Task.objects.filter(user=user).exists()
