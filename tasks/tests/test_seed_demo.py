"""seed_demo: deterministic Better Auth-shaped users, tags and tasks, in batches."""

import re

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import User
from tasks.models import Priority, Tag, Task
from tasks.tests.command_support import TaskThrough, run, snapshot, tags_never_cross_users


@pytest.mark.django_db
def test_seed_demo_creates_realistic_data_with_better_auth_ids():
    out, _ = run("seed_demo", users=3, tasks_per_user=40, seed=5)
    assert re.search(r"Created 3 user\(s\), \d+ tag\(s\), 120 task\(s\)", out)
    users = list(User.objects.all())
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", user.pk) for user in users)
    assert all(not user.has_usable_password() and "@" in user.email and user.name for user in users)
    tasks = Task.objects.all()
    assert tasks.count() == 120
    assert tasks.filter(completed=True).exists() and tasks.filter(completed=False).exists()
    assert tasks.filter(due_date__isnull=True).exists()
    assert (
        tasks.filter(due_date__lt=timezone.now()).exists()
        and tasks.filter(due_date__gt=timezone.now()).exists()
    )
    assert set(tasks.values_list("priority", flat=True)) == set(Priority.values)
    assert TaskThrough.objects.exists()
    for user in users:  # a small vocabulary per user, and tasks only carry their owner's tags
        assert 3 <= Tag.objects.filter(user=user).count() <= 8
    assert tags_never_cross_users()
    # completed and completed_at agree, as the API keeps them
    assert not tasks.filter(completed=True, completed_at__isnull=True).exists()
    assert not tasks.filter(completed=False, completed_at__isnull=False).exists()


@pytest.mark.django_db
def test_seed_demo_is_deterministic_for_a_seed():
    out, _ = run("seed_demo", users=2, tasks_per_user=15, seed=9, print_user_ids=True)
    first = snapshot()
    ids = out.split()
    Task.objects.all().delete()
    Tag.objects.all().delete()
    User.objects.all().delete()
    again, _ = run("seed_demo", users=2, tasks_per_user=15, seed=9, print_user_ids=True)
    assert again.split() == ids

    def content(rows):
        ignored = {"id", "created_at", "updated_at", "completed_at", "due_date"}
        return [{key: value for key, value in row.items() if key not in ignored} for row in rows]

    # Dates are offsets from today's midnight, so on the same day they are equal too.
    assert content(snapshot()) == content(first)


@pytest.mark.django_db
def test_seed_demo_print_user_ids_prints_only_ids_on_stdout():
    out, err = run("seed_demo", users=4, tasks_per_user=1, seed=3, print_user_ids=True)
    lines = out.splitlines()
    assert len(lines) == 4 and all(re.fullmatch(r"[A-Za-z0-9]{32}", line) for line in lines)
    assert set(lines) == set(User.objects.values_list("pk", flat=True))
    assert "Created 4 user(s)" in err


@pytest.mark.django_db
def test_seed_demo_shows_a_progress_bar_when_it_runs_in_several_batches():
    _, err = run("seed_demo", users=2, tasks_per_user=30, seed=4, batch_size=10)
    assert "seed_demo [" in err and "60/60" in err
    assert Task.objects.count() == 60


@pytest.mark.django_db
def test_seed_demo_dry_run_writes_nothing():
    out, _ = run("seed_demo", users=2, tasks_per_user=5, seed=1, dry_run=True)
    assert "Would create 2 user(s)" in out
    assert not User.objects.exists() and not Task.objects.exists()


@pytest.mark.django_db
def test_seed_demo_refuses_a_seed_whose_users_exist():
    run("seed_demo", users=1, tasks_per_user=1, seed=2)
    with pytest.raises(CommandError, match="already exist"):
        run("seed_demo", users=1, tasks_per_user=1, seed=2)
    assert Task.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"users": 0, "tasks_per_user": 1}, "--users"),
        ({"users": 1, "tasks_per_user": -1}, "--tasks-per-user"),
        ({"users": 1, "tasks_per_user": 1, "batch_size": 0}, "--batch-size"),
        ({"users": 100_000, "tasks_per_user": 1000}, "At most"),
    ],
)
def test_seed_demo_bad_input_is_a_command_error(options, message):
    with pytest.raises(CommandError, match=message):
        run("seed_demo", **options)
    assert not User.objects.exists()
