"""reassign_tasks: every task of one user to another, same-name tags merged."""

import pytest
from django.core.management.base import CommandError

from accounts.tests.factories import UserFactory
from tasks.models import Tag, Task
from tasks.tests.command_support import run, tags_never_cross_users
from tasks.tests.factories import TaskFactory


@pytest.fixture
def merged_accounts(db):
    source, target = UserFactory(), UserFactory()
    TaskFactory(user=target, title="Target's", tags=["Work"])
    moved = [
        TaskFactory(user=source, title="Shared tag", tags=["work", "errands"]),
        TaskFactory(user=source, title="Own tag", tags=["errands"]),
        TaskFactory(user=source, title="No tags"),
    ]
    return source, target, moved


def test_reassign_moves_tasks_and_merges_same_name_tags(merged_accounts):
    source, target, moved = merged_accounts
    out, _ = run("reassign_tasks", from_user=source.pk, to_user=target.pk)
    assert f"Moved 3 task(s) from {source.pk} to {target.pk}: 1 tag(s) moved, 1 merged" in out
    assert not Task.objects.filter(user=source).exists()
    assert not Tag.objects.filter(user=source).exists()
    assert set(Tag.objects.filter(user=target).values_list("name", flat=True)) == {"errands", "Work"}
    shared = Task.objects.get(title="Shared tag")
    assert {tag.name for tag in shared.tags.all()} == {"errands", "Work"}  # the target's spelling
    assert shared.version == moved[0].version + 1
    assert Tag.objects.get(user=target, key="work").tasks.count() == 2
    assert tags_never_cross_users()


def test_reassign_dry_run_changes_nothing(merged_accounts):
    source, target, _ = merged_accounts
    out, _ = run("reassign_tasks", from_user=source.pk, to_user=target.pk, dry_run=True)
    assert "Would move 3 task(s)" in out
    assert Task.objects.filter(user=source).count() == 3
    assert Tag.objects.filter(user=source).count() == 2


@pytest.mark.parametrize("which", ["same", "unknown_from", "unknown_to"])
def test_reassign_bad_input_is_a_command_error(merged_accounts, which):
    source, target, _ = merged_accounts
    from_user, to_user = {
        "same": (source.pk, source.pk),
        "unknown_from": ("nobody", target.pk),
        "unknown_to": (source.pk, "nobody"),
    }[which]
    with pytest.raises(CommandError):
        run("reassign_tasks", from_user=from_user, to_user=to_user)
    assert Task.objects.filter(user=source).count() == 3
