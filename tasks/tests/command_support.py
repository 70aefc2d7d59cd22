"""Helpers of the tasks app's command tests (tasks/tests/test_<command>.py)."""

import io

from django.core.management import call_command
from django.db.models import F

from tasks.models import Task

TaskThrough = Task.tags.through


def run(*args, **options) -> tuple[str, str]:
    """call_command with captured stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def snapshot(queryset=None) -> list[dict]:
    """Every stored field of every task, with its tag names: what a lossless round trip keeps."""
    rows = []
    for task in (
        (queryset or Task.objects.all()).order_by("user_id", "created_at", "title").prefetch_related("tags")
    ):
        rows.append(
            {
                **{
                    field.attname: getattr(task, field.attname)
                    for field in Task._meta.concrete_fields
                    if field.attname != "change_seq"  # the change feed's bookkeeping, not the task
                },
                "tags": sorted(tag.name for tag in task.tags.all()),
            }
        )
    return rows


def tags_never_cross_users() -> bool:
    """No task carries another user's tag."""
    return not TaskThrough.objects.exclude(tag__user_id=F("task__user_id")).exists()
