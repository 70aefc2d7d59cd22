"""purge_tasks: a user's tasks and/or tasks completed before a date, in batches."""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.tests.factories import UserFactory
from tasks.models import Task
from tasks.tests.command_support import TaskThrough, run
from tasks.tests.factories import TaskFactory


@pytest.fixture
def aged(db):
    """Tasks of two users, completed long ago, recently, and not at all."""
    alice, bob = UserFactory(), UserFactory()
    old = datetime(2024, 1, 10, tzinfo=UTC)
    return {
        "alice": alice,
        "bob": bob,
        "alice_old": TaskFactory(user=alice, completed=True, completed_at=old, tags=["x"]),
        "alice_new": TaskFactory(user=alice, completed=True, completed_at=timezone.now()),
        "alice_open": TaskFactory(user=alice),
        "bob_old": TaskFactory(user=bob, completed=True, completed_at=old),
        "bob_open": TaskFactory(user=bob),
    }


def remaining(aged) -> set[str]:
    ids = set(Task.objects.values_list("pk", flat=True))
    return {name for name, task in aged.items() if isinstance(task, Task) and task.pk in ids}


def test_purge_completed_before_a_date_deletes_only_those(aged):
    out, _ = run("purge_tasks", "--completed-before", "2025-01-01")
    assert "Deleted 2 task(s) completed before 2025-01-01T00:00:00+00:00." in out
    assert remaining(aged) == {"alice_new", "alice_open", "bob_open"}
    assert not TaskThrough.objects.filter(task_id=aged["alice_old"].pk).exists()


def test_purge_one_users_tasks(aged):
    out, _ = run("purge_tasks", user=aged["alice"].pk)
    assert f"Deleted 3 task(s) of user {aged['alice'].pk}." in out
    assert remaining(aged) == {"bob_old", "bob_open"}


def test_purge_user_and_date_together(aged):
    run("purge_tasks", "--user", aged["bob"].pk, "--completed-before", "2025-01-01T00:00:00Z")
    assert remaining(aged) == {"alice_old", "alice_new", "alice_open", "bob_open"}


def test_purge_dry_run_counts_and_deletes_nothing(aged):
    out, _ = run("purge_tasks", "--completed-before", "2025-01-01", "--dry-run")
    assert "Would delete 2 task(s)" in out
    assert Task.objects.count() == 5


def test_purge_works_in_batches_with_progress(aged, monkeypatch):
    from tasks.management.commands import purge_tasks

    monkeypatch.setattr(purge_tasks, "BATCH_SIZE", 1)
    _, err = run("purge_tasks", user=aged["alice"].pk)
    assert "purge_tasks [" in err and "3/3" in err
    assert remaining(aged) == {"bob_old", "bob_open"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Give --user, --completed-before"),
        (["--user", "nobody"], "No user with id 'nobody'"),
    ],
)
def test_purge_bad_input_is_a_command_error(aged, args, message):
    with pytest.raises(CommandError, match=message):
        run("purge_tasks", *args)
    assert Task.objects.count() == 5


def test_purge_refuses_a_date_it_cannot_read(aged):
    with pytest.raises(CommandError, match="is not a date"):
        call_command("purge_tasks", "--completed-before", "last tuesday")
