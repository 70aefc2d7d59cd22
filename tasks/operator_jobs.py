"""Operator jobs over many users' tasks, run by the management commands: purge, reassign, import,
normalize. Batched and transactional; every change follows the write rules of tasks/rules.py."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import F

from accounts.models import User
from tasks import rules
from tasks.models import Tag, Task
from tasks.rules import tag_key
from tasks.services import TaskThrough, tags_get_or_create, tags_merge


def _in_batches(queryset, batch_size: int):
    """Primary keys of `queryset` in ascending batches, read afresh each time (rows may change)."""
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def tasks_purge(
    *,
    user: User | None = None,
    completed_before: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete a user's tasks and/or tasks completed before a date, a batch per transaction.
    Returns how many were (or, with `dry_run`, would be) deleted."""
    if user is None and completed_before is None:
        raise ValueError("Give a user, a completed-before date, or both.")
    queryset = Task.objects.all()
    if user is not None:
        queryset = queryset.owned_by(user)
    if completed_before is not None:
        queryset = queryset.completed().filter(completed_at__lt=completed_before)
    if dry_run:
        return queryset.count()
    deleted = 0
    for ids in _in_batches(queryset, batch_size):
        with transaction.atomic():
            deleted += Task.objects.filter(pk__in=ids).delete()[1].get(Task._meta.label, 0)
        if on_batch:
            on_batch(len(ids))
    return deleted


@dataclass(frozen=True)
class ReassignResult:
    tasks: int
    tags_moved: int
    tags_merged: int


def tasks_reassign(*, source: User, target: User, dry_run: bool = False) -> ReassignResult:
    """Move every task of `source` to `target` (accounts merged in Better Auth), in one transaction.

    A source tag whose name the target already has is merged into the target's tag; the others
    change owner. Moved tasks get a new version and updated_at, as any change does.
    """
    if source.pk == target.pk:
        raise ValueError("The source and target users are the same.")
    with transaction.atomic():
        target_tags = dict(Tag.objects.filter(user=target).values_list("key", "pk"))
        source_tags = list(Tag.objects.filter(user=source).select_for_update().values_list("pk", "key"))
        clashing = [(pk, target_tags[key]) for pk, key in source_tags if key in target_tags]
        task_count = Task.objects.owned_by(source).count()
        result = ReassignResult(task_count, len(source_tags) - len(clashing), len(clashing))
        if dry_run:
            return result
        for source_tag_id, target_tag_id in clashing:
            # A source task cannot carry a target tag already: tags never cross users.
            TaskThrough.objects.filter(tag_id=source_tag_id).update(tag_id=target_tag_id)
        Tag.objects.filter(pk__in=[pk for pk, _ in clashing]).delete()
        Tag.objects.filter(user=source).update(user=target)
        Task.objects.owned_by(source).update(user=target, **rules.bumped())
    return result


@dataclass
class ImportedTask:
    """One task of an export file, validated."""

    line: int
    user_id: str
    title: str
    description: str
    completed: bool
    completed_at: datetime | None
    priority: int
    due_date: datetime | None
    tags: list[str]
    version: int
    created_at: datetime
    updated_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class ImportResult:
    created: int
    skipped: int
    tags_created: int


def tasks_import(*, rows: list[ImportedTask], keep_ids: bool, dry_run: bool = False, batch_size: int = 1000):
    """Create the tasks of an export file exactly as they were (timestamps, version, tags), all in
    one transaction: a failure writes nothing.

    A task already present (same owner, created_at and title) is skipped, so importing a file
    twice creates nothing new. With `keep_ids`, a task keeps its exported id when that id is free.
    """
    created = skipped = tags_created = 0
    with transaction.atomic():
        seen: set[tuple[str, datetime, str]] = set()
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            existing = set(
                Task.objects.filter(
                    user_id__in={row.user_id for row in batch},
                    created_at__in={row.created_at for row in batch},
                ).values_list("user_id", "created_at", "title")
            )
            fresh = []
            for row in batch:
                natural_key = (row.user_id, row.created_at, row.title)
                if natural_key in existing or natural_key in seen:
                    skipped += 1
                    continue
                seen.add(natural_key)
                fresh.append(row)
            taken_ids = set()
            if keep_ids:
                wanted = [row.id for row in fresh if row.id is not None]
                taken_ids = set(Task.objects.filter(pk__in=wanted).values_list("pk", flat=True))
            tasks = [
                Task(
                    id=row.id if keep_ids and row.id is not None and row.id not in taken_ids else None,
                    user_id=row.user_id,
                    title=row.title,
                    description=row.description,
                    completed=row.completed,
                    completed_at=row.completed_at,
                    priority=row.priority,
                    due_date=row.due_date,
                    version=row.version,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                )
                for row in fresh
            ]
            created += len(tasks)
            if dry_run or not tasks:
                continue
            before = Tag.objects.filter(user_id__in={row.user_id for row in fresh}).count()
            Task.objects.bulk_create(tasks)
            links = []
            names_by_user: dict[str, set[str]] = {}
            for row in fresh:
                names_by_user.setdefault(row.user_id, set()).update(row.tags)
            tag_ids = {}
            for user_id, names in names_by_user.items():
                for tag in tags_get_or_create(user=User(pk=user_id), names=sorted(names)):
                    tag_ids[(user_id, tag.key)] = tag.pk
            for row, task in zip(fresh, tasks, strict=True):
                links += [
                    TaskThrough(task_id=task.pk, tag_id=tag_ids[(row.user_id, tag_key(name))])
                    for name in row.tags
                ]
            TaskThrough.objects.bulk_create(links, ignore_conflicts=True)
            tags_created += Tag.objects.filter(user_id__in={row.user_id for row in fresh}).count() - before
        if keep_ids and created and not dry_run:
            # Explicit ids leave PostgreSQL's sequence behind; the next API create would collide.
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), [Task]):
                    cursor.execute(statement)
    return ImportResult(created, skipped, tags_created)


@dataclass(frozen=True)
class NormalizeResult:
    titles_trimmed: int
    tags_renamed: int
    tags_merged: int
    completion_fixed: int


def _bump(task_ids: list[int], **values) -> int:
    return Task.objects.filter(pk__in=task_ids).update(**rules.bumped(), **values)


def data_normalize(*, dry_run: bool = False, batch_size: int = 1000) -> NormalizeResult:
    """Repair what the API's rules forbid but old or hand-made rows may hold, a batch per transaction:
    titles with surrounding whitespace, tags whose name is untrimmed or whose key is stale (merged
    with the user's tag of the same name), `completed_at` disagreeing with `completed`."""
    # Titles: the API trims them. A title of only whitespace becomes "(untitled)", never blank.
    titles_trimmed = 0
    for ids in _in_batches(Task.objects.filter(title__regex=r"^\s|\s$"), batch_size):
        with transaction.atomic():
            rows = list(Task.objects.filter(pk__in=ids).select_for_update().values_list("pk", "title"))
            for pk, title in rows:
                if title != title.strip():
                    titles_trimmed += 1
                    if not dry_run:
                        _bump([pk], title=title.strip() or "(untitled)")

    # Tags: the key must be the case-folded trimmed name; two tags of one user with the same key merge.
    tags_renamed = tags_merged = 0
    for ids in _in_batches(Tag.objects.all(), batch_size * 5):
        for tag in Tag.objects.filter(pk__in=ids).order_by("pk"):
            name = tag.name.strip() or tag.name
            key = tag_key(name)
            if (tag.name, tag.key) == (name, key):
                continue
            target = (
                Tag.objects.filter(user_id=tag.user_id, key=key).exclude(pk=tag.pk).order_by("pk").first()
            )
            if target is not None:
                tags_merged += 1
                if not dry_run:
                    tags_merge(source=tag, target=target)
            else:
                tags_renamed += 1
                if not dry_run:
                    with transaction.atomic():
                        Tag.objects.filter(pk=tag.pk).update(name=name, key=key)
                        Task.objects.filter(tags=tag).update(**rules.bumped())

    # completed and completed_at must agree; a missing completion time is taken from updated_at.
    completion_fixed = 0
    completed_without = Task.objects.filter(completed=True, completed_at__isnull=True)
    pending_with = Task.objects.filter(completed=False, completed_at__isnull=False)
    if dry_run:
        completion_fixed = completed_without.count() + pending_with.count()
    else:
        for ids in _in_batches(completed_without, batch_size):
            with transaction.atomic():
                # The completion time is the last change's time, so it is read before the bump.
                completion_fixed += Task.objects.filter(pk__in=ids, completed_at__isnull=True).update(
                    completed_at=F("updated_at"), **rules.bumped()
                )
        for ids in _in_batches(pending_with, batch_size):
            with transaction.atomic():
                completion_fixed += _bump(ids, completed_at=None)
    return NormalizeResult(titles_trimmed, tags_renamed, tags_merged, completion_fixed)
