"""normalize_data: repairs rows that old releases or hand edits left outside the rules."""

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from tasks.models import Tag, Task
from tasks.tests.command_support import run, snapshot
from tasks.tests.factories import TagFactory, TaskFactory


@pytest.fixture
def messy(db):
    """Rows the API would never write, made the way old code or a hand edit could."""
    user = UserFactory()
    good = TaskFactory(user=user, title="Fine", tags=["home"])
    padded = TaskFactory(user=user, title="  Padded title \t")
    blank = TaskFactory(user=user, title="x")
    Task.objects.filter(pk=blank.pk).update(title="   ")
    done_no_time = TaskFactory(user=user, title="Done, no time")
    Task.objects.filter(pk=done_no_time.pk).update(completed=True, completed_at=None)
    open_with_time = TaskFactory(user=user, title="Open, with time")
    Task.objects.filter(pk=open_with_time.pk).update(completed=False, completed_at=timezone.now())
    # A tag whose key went stale ("Home " with key "home " collides with "home" once trimmed).
    stale = TagFactory(user=user, name="Home ", key="home ")
    stale_task = TaskFactory(user=user, title="Stale tag")
    stale_task.tags.add(stale)
    renamed = TagFactory(user=user, name=" Garden", key="Garden")
    return {
        "good": good,
        "padded": padded,
        "blank": blank,
        "done_no_time": done_no_time,
        "open_with_time": open_with_time,
        "stale": stale,
        "stale_task": stale_task,
        "renamed": renamed,
    }


def test_normalize_fixes_each_problem_and_reports_each_count(messy):
    versions = dict(Task.objects.values_list("pk", "version"))
    last_change = Task.objects.get(pk=messy["done_no_time"].pk).updated_at
    out, _ = run("normalize_data")
    assert "titles trimmed: 2" in out
    assert "tags renamed: 1" in out
    assert "duplicate tags merged: 1" in out
    assert "completed/completed_at disagreements fixed: 2" in out
    assert "Fixed 6 problem(s)." in out

    def fresh(name):
        return Task.objects.get(pk=messy[name].pk)

    assert fresh("padded").title == "Padded title"
    assert fresh("blank").title == "(untitled)"
    assert fresh("done_no_time").completed_at == last_change  # the best guess we have
    assert fresh("open_with_time").completed_at is None
    assert not Tag.objects.filter(pk=messy["stale"].pk).exists()
    assert [tag.name for tag in fresh("stale_task").tags.all()] == ["home"]
    renamed = Tag.objects.get(pk=messy["renamed"].pk)
    assert (renamed.name, renamed.key) == ("Garden", "garden")
    for name in ("padded", "blank", "done_no_time", "open_with_time", "stale_task"):
        assert fresh(name).version == versions[messy[name].pk] + 1, name
    assert fresh("good").version == versions[messy["good"].pk]  # untouched rows keep their version
    # A second run finds nothing left.
    assert "Fixed 0 problem(s)." in run("normalize_data")[0]


def test_normalize_dry_run_counts_and_changes_nothing(messy):
    before = snapshot()
    tags = list(Tag.objects.values_list("pk", "name", "key"))
    out, _ = run("normalize_data", dry_run=True)
    assert "Would fix 6 problem(s)." in out
    assert snapshot() == before
    assert list(Tag.objects.values_list("pk", "name", "key")) == tags
