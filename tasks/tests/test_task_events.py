"""The webhooks outbox (tasks.TaskEvent, docs/ARCHITECTURE.md "Task events"): the same triggers as
the change feed write one row per committed change, of the right kind, only for a user whose
webhooks are on, and nothing for a write that rolls back."""

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from tasks import services
from tasks.models import Reminder, Task, TaskCount, TaskEvent
from tasks.tests.api_support import create_task, tasks_url
from tasks.tests.command_support import run
from tasks.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def events(user=None) -> list[tuple[str, int]]:
    rows = TaskEvent.objects.order_by("id")
    if user is not None:
        rows = rows.filter(user=user)
    return [(event.event, event.task_id) for event in rows]


@pytest.fixture
def hooked(user):
    services.task_events_enable(user_id=user.pk, enabled=True)
    return user


def test_without_an_active_webhook_nothing_is_written(auth_client, user):
    task = create_task(auth_client, user.pk)
    auth_client.patch(tasks_url(user.pk, task["id"]), {"title": "x"}, format="json")
    auth_client.patch(tasks_url(user.pk, task["id"], "complete"))
    auth_client.delete(tasks_url(user.pk, task["id"]))
    assert not TaskEvent.objects.exists()


def test_each_write_records_its_kind(auth_client, hooked):
    user = hooked
    task = create_task(auth_client, user.pk, title="t", tags=["a"])
    tid = task["id"]
    auth_client.patch(tasks_url(user.pk, tid), {"title": "renamed"}, format="json")
    auth_client.patch(tasks_url(user.pk, tid), {"tags": ["b"]}, format="json")
    auth_client.patch(tasks_url(user.pk, tid, "complete"))  # false -> true
    auth_client.patch(tasks_url(user.pk, tid, "complete"))  # true -> false: an update
    auth_client.patch(tasks_url(user.pk, tid), {"completed": True}, format="json")
    auth_client.delete(tasks_url(user.pk, tid))

    assert events() == [
        ("task.created", tid),
        ("task.updated", tid),
        ("task.updated", tid),
        ("task.completed", tid),
        ("task.updated", tid),
        ("task.completed", tid),
        ("task.deleted", tid),
    ]
    seqs = list(TaskEvent.objects.order_by("id").values_list("change_seq", flat=True))
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(event.user_id == user.pk for event in TaskEvent.objects.all())


def test_writes_that_change_nothing_and_reminder_only_changes_record_nothing(auth_client, hooked):
    user = hooked
    task = create_task(auth_client, user.pk, title="same")
    TaskEvent.objects.all().delete()
    auth_client.patch(tasks_url(user.pk, task["id"]), {"title": "same"}, format="json")
    auth_client.patch(tasks_url(user.pk, task["id"], "complete"), {"completed": False}, format="json")
    Reminder.objects.create(task_id=task["id"], user=user, position=0, at=timezone.now())
    assert events() == []


def test_bulk_admin_action_and_commands_record_events(auth_client, admin_client, hooked):
    user = hooked
    a, b = create_task(auth_client, user.pk)["id"], create_task(auth_client, user.pk)["id"]
    TaskEvent.objects.all().delete()
    auth_client.post(tasks_url(user.pk, "bulk"), {"action": "complete", "ids": [a, b]}, format="json")
    admin_client.post("/admin/tasks/task/", {"action": "reopen_tasks", "_selected_action": [a]})
    other = UserFactory()
    services.task_events_enable(user_id=other.pk, enabled=True)
    run("reassign_tasks", "--from-user", user.pk, "--to-user", other.pk)

    assert sorted(events(user)) == sorted(
        [
            ("task.completed", a),
            ("task.completed", b),
            ("task.updated", a),
            ("task.deleted", a),
            ("task.deleted", b),
        ]
    )
    assert sorted(events(other)) == sorted([("task.created", a), ("task.created", b)])


def test_only_the_users_with_the_flag_pay(auth_client, hooked):
    other = UserFactory()
    TaskFactory(user=other)
    create_task(auth_client, hooked.pk)
    assert [e.user_id for e in TaskEvent.objects.all()] == [hooked.pk]


def test_turning_it_off_stops_recording(auth_client, hooked):
    create_task(auth_client, hooked.pk)
    services.task_events_enable(user_id=hooked.pk, enabled=False)
    create_task(auth_client, hooked.pk)
    assert len(events()) == 1
    assert TaskCount.objects.get(user=hooked).webhooks_active is False


def test_it_can_be_turned_on_before_the_first_task(user):
    services.task_events_enable(user_id=user.pk, enabled=True)
    task = TaskFactory(user=user)
    assert events() == [("task.created", task.pk)]
    assert TaskCount.objects.get(user=user).total == 1


def test_turning_it_on_inside_a_transaction_applies_to_its_later_writes(user):
    TaskFactory(user=user)
    with transaction.atomic():
        TaskFactory(user=user)  # the statement's flag is remembered for the transaction
        services.task_events_enable(user_id=user.pk, enabled=True)
        task = TaskFactory(user=user)
    assert events() == [("task.created", task.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_records_nothing(user):
    services.task_events_enable(user_id=user.pk, enabled=True)
    kept = TaskFactory(user=user)
    TaskEvent.objects.all().delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        Task.objects.filter(pk=kept.pk).update(title="undone")
        TaskFactory(user=user)
        Task.objects.filter(pk=kept.pk).delete()
        raise RuntimeError
    assert events() == []


def test_reminder_due_is_recorded_by_the_service_only_with_the_flag(user):
    task = TaskFactory(user=user)
    assert services.task_event_record(user_id=user.pk, task_id=task.pk, event="reminder.due") is None
    services.task_events_enable(user_id=user.pk, enabled=True)
    row = services.task_event_record(
        user_id=user.pk, task_id=task.pk, event="reminder.due", data={"reminder_id": 1}
    )
    assert row is not None and row.event == "reminder.due" and row.data == {"reminder_id": 1}
    assert row.dispatched_at is None
    with pytest.raises(ValueError, match="Unknown task event"):
        services.task_event_record(user_id=user.pk, task_id=task.pk, event="task.exploded")
