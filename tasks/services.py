"""Every write to tasks and tags, for the API, the admin and the commands alike."""

import hashlib
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from tasks import sql
from tasks.errors import TaskNotFound, VersionConflict
from tasks.models import PRIORITY_BY_NAME, IdempotencyKey, Priority, Tag, Task, merge_tag_names, tag_key

IDEMPOTENCY_TTL = timedelta(hours=24)
TaskThrough = Task.tags.through


# --- Tags -----------------------------------------------------------------------------------------
def tags_get_or_create(*, user: User, names: Iterable[str]) -> list[Tag]:
    """The user's tags for these names, created where missing, in one statement.

    An existing tag keeps the spelling the user first gave it.
    """
    names = merge_tag_names(names)
    if not names:
        return []
    rows = sql.tags_upsert(user_id=user.pk, names=names, keys=[tag_key(n) for n in names], link_task_id=None)
    by_key = {}
    for tag_id, name, key in rows:
        tag = Tag.from_db(connection.alias, ["id", "name", "key"], (tag_id, name, key))
        tag.user_id = user.pk
        by_key[key] = tag
    return [by_key[tag_key(name)] for name in names]


def _replace_task_tags(task_id: int, user_id: str, names: list[str]) -> bool:
    """Make the task carry exactly these tags. Returns whether anything changed."""
    current = sql.task_tag_ids(task_id=task_id)
    names = merge_tag_names(names)
    wanted = {}
    if names:
        rows = sql.tags_upsert(
            user_id=user_id, names=names, keys=[tag_key(n) for n in names], link_task_id=None
        )
        wanted = {key: tag_id for tag_id, _, key in rows}
    if set(current.values()) == set(wanted.values()):
        return False
    sql.links_delete(task_id=task_id, tag_ids=set(current.values()) - set(wanted.values()))
    sql.links_insert(task_id=task_id, tag_ids=set(wanted.values()) - set(current.values()))
    return True


@transaction.atomic
def tags_merge(*, source: Tag, target: Tag) -> int:
    """Move every task of `source` onto `target` (same user) and delete `source`. Returns tasks moved."""
    if source.user_id != target.user_id:
        raise ValueError("Only tags of the same user can be merged.")
    if source.pk == target.pk:
        return 0
    task_ids = set(TaskThrough.objects.filter(tag_id=source.pk).values_list("task_id", flat=True))
    already = set(
        TaskThrough.objects.filter(tag_id=target.pk, task_id__in=task_ids).values_list("task_id", flat=True)
    )
    TaskThrough.objects.bulk_create([TaskThrough(task_id=t, tag_id=target.pk) for t in task_ids - already])
    now = timezone.now()
    Task.objects.filter(pk__in=task_ids).update(version=F("version") + 1, updated_at=now)
    source.delete()
    return len(task_ids)


# --- Tasks ----------------------------------------------------------------------------------------
# Writes of one task: one statement in the common case (RETURNING the task with its tag names), a
# second only to tell "not found" from "version conflict" from "nothing to change".
_SIMPLE_FIELDS = ("title", "description", "priority", "due_date", "completed")


def task_from_row(row) -> Task:
    """A Task instance (with `tag_names`) from a row of tasks.sql's task columns."""
    data = sql.dialect().to_task(row)
    task = Task.from_db(
        connection.alias,
        ["id", "user_id", "title", "description", "completed", "completed_at", "priority", "due_date",
         "version", "created_at", "updated_at"],
        (data["id"], data["user_id"], data["title"], data["description"], data["completed"],
         data["completed_at"], PRIORITY_BY_NAME[data["priority"]], data["due_date"], data["version"],
         data["created_at"], data["updated_at"]),
    )  # fmt: skip
    task.tag_names = data["tags"]
    return task


def task_create(
    *,
    user: User,
    title: str,
    description: str = "",
    completed: bool = False,
    priority: int = Priority.NONE,
    due_date: datetime | None = None,
    tags: Iterable[str] = (),
) -> Task:
    """A new task with its tags: one statement on PostgreSQL; on SQLite, one per part, in a
    transaction when there are tags."""
    values = {"title": title, "description": description, "completed": completed}
    values |= {"priority": priority, "due_date": due_date}
    names = merge_tag_names(tags)
    several_statements = bool(names) and connection.vendor != "postgresql"
    # A single statement needs no transaction of its own (a BEGIN and a COMMIT are round trips too).
    with transaction.atomic(savepoint=False) if several_statements else nullcontext():
        row = sql.task_insert_row(
            user_id=user.pk,
            values=values,
            now=timezone.now(),
            tag_names=names,
            tag_keys=[tag_key(name) for name in names],
        )
    return task_from_row(row)


def _unwritten(*, user: User, task_id: int, versions: Sequence[int] | None) -> Task:
    """After a conditional write changed nothing: the task as it is, or why it was not written."""
    row = sql.task_row(user_id=user.pk, task_id=task_id)
    if row is None:
        raise TaskNotFound(task_id)
    task = task_from_row(row)
    if versions is not None and task.version not in versions:
        raise VersionConflict()
    return task


def task_update(
    *, user: User, task_id: int, changes: dict[str, Any], versions: Sequence[int] | None = None
) -> Task:
    """Apply `changes` (any of title, description, completed, priority, due_date, tags) if the task's
    version is one of `versions` (any version when None). Raises TaskNotFound or VersionConflict.

    Only a write that changes something bumps `version` and `updated_at`.
    """
    now = timezone.now()
    values = {field: changes[field] for field in _SIMPLE_FIELDS if field in changes}
    if "tags" not in changes:
        row = sql.task_update_row(user_id=user.pk, task_id=task_id, values=values, versions=versions, now=now)
        return task_from_row(row) if row else _unwritten(user=user, task_id=task_id, versions=versions)
    # Tags change: lock the task, compare, then write what differs, in one transaction.
    with transaction.atomic():
        row = sql.task_row(user_id=user.pk, task_id=task_id, for_update=True)
        if row is None:
            raise TaskNotFound(task_id)
        task = task_from_row(row)
        if versions is not None and task.version not in versions:
            raise VersionConflict()
        tags_changed = _replace_task_tags(task_id, user.pk, list(changes["tags"]))
        row = sql.task_update_row(
            user_id=user.pk, task_id=task_id, values=values, versions=None, now=now, always=tags_changed
        )
    return task_from_row(row) if row else task


def task_set_completed(
    *, user: User, task_id: int, completed: bool | None, versions: Sequence[int] | None = None
) -> Task:
    """Set `completed`, or toggle it when `completed` is None (one statement either way)."""
    if completed is not None:
        return task_update(user=user, task_id=task_id, changes={"completed": completed}, versions=versions)
    row = sql.task_toggle_row(user_id=user.pk, task_id=task_id, versions=versions, now=timezone.now())
    if row is not None:
        return task_from_row(row)
    _unwritten(user=user, task_id=task_id, versions=versions)
    raise VersionConflict()  # the task exists, so only its version can have stopped the toggle


@transaction.atomic
def task_delete(*, user: User, task_id: int, versions: Sequence[int] | None = None) -> None:
    task = Task.objects.owned_by(user).select_for_update().filter(pk=task_id).first()
    if task is None:
        raise TaskNotFound(task_id)
    if versions is not None and task.version not in versions:
        raise VersionConflict()
    task.delete()


@dataclass(frozen=True)
class BulkResult:
    action: str
    affected: int
    missing: list[int]


@transaction.atomic
def tasks_bulk(*, user: User, action: str, ids: list[int] | None = None) -> BulkResult:
    """complete / reopen / delete the caller's tasks among `ids`, or delete_completed; one transaction."""
    mine = Task.objects.owned_by(user)
    if action == "delete_completed":
        deleted = mine.completed().delete()[1].get(Task._meta.label, 0)
        return BulkResult(action, deleted, [])
    ids = list(dict.fromkeys(ids or []))
    owned = set(mine.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [task_id for task_id in ids if task_id not in owned]
    targets = mine.filter(pk__in=owned)
    now = timezone.now()
    if action == "complete":
        affected = targets.filter(completed=False).update(
            completed=True, completed_at=now, version=F("version") + 1, updated_at=now
        )
    elif action == "reopen":
        affected = targets.filter(completed=True).update(
            completed=False, completed_at=None, version=F("version") + 1, updated_at=now
        )
    elif action == "delete":
        affected = targets.delete()[1].get(Task._meta.label, 0)
    else:
        raise ValueError(f"Unknown bulk action {action!r}.")
    return BulkResult(action, affected, missing)


# --- Idempotent create ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredResponse:
    """The response of a create made with an Idempotency-Key, as first given."""

    status_code: int
    body: dict
    location: str
    etag: str


def request_fingerprint(data: Any) -> str:
    """The same JSON value gives the same fingerprint, whatever its key order or spacing."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def idempotency_key_store(*, user: User, key: str, fingerprint: str, response: StoredResponse) -> None:
    """Store the response of the create just made under (user, key), in the caller's transaction.

    An expired record of the key is replaced. While a live record (under 24 hours old) holds the
    key, this raises IntegrityError (now, or when the transaction commits): the caller rolls back
    and answers from that record.
    """
    now = timezone.now()
    sql.idempotency_store(
        user_id=user.pk,
        key=key,
        fingerprint=fingerprint,
        status_code=response.status_code,
        body=orjson.dumps(response.body).decode(),
        location=response.location,
        etag=response.etag,
        now=now,
        expired_before=now - IDEMPOTENCY_TTL,
    )


def idempotency_key_get(*, user: User, key: str) -> IdempotencyKey | None:
    return IdempotencyKey.objects.filter(user=user, key=key).first()


def idempotency_keys_purge_expired(*, now: datetime | None = None) -> int:
    """Delete stored idempotent responses older than 24 hours. Returns how many."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    return IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()[0]


# --- Admin and operator commands (added with issue 4) ---------------------------------------------
@transaction.atomic
def tag_delete(*, tag: Tag) -> int:
    """Delete a tag. The tasks that carried it changed, so their version and updated_at move on.
    Returns how many tasks carried it."""
    changed = Task.objects.filter(tags=tag).update(version=F("version") + 1, updated_at=timezone.now())
    tag.delete()
    return changed


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
        Task.objects.owned_by(source).update(user=target, version=F("version") + 1, updated_at=timezone.now())
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
            from django.core.management.color import no_style

            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), [Task]):
                    cursor.execute(sql)
    return ImportResult(created, skipped, tags_created)


@dataclass(frozen=True)
class NormalizeResult:
    titles_trimmed: int
    tags_renamed: int
    tags_merged: int
    completion_fixed: int


def _bump(task_ids: list[int], **values: Any) -> int:
    return Task.objects.filter(pk__in=task_ids).update(
        version=F("version") + 1, updated_at=timezone.now(), **values
    )


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
                        Task.objects.filter(tags=tag).update(
                            version=F("version") + 1, updated_at=timezone.now()
                        )

    # completed and completed_at must agree; a missing completion time is taken from updated_at.
    completion_fixed = 0
    completed_without = Task.objects.filter(completed=True, completed_at__isnull=True)
    pending_with = Task.objects.filter(completed=False, completed_at__isnull=False)
    if dry_run:
        completion_fixed = completed_without.count() + pending_with.count()
    else:
        for ids in _in_batches(completed_without, batch_size):
            with transaction.atomic():
                completion_fixed += Task.objects.filter(pk__in=ids, completed_at__isnull=True).update(
                    completed_at=F("updated_at"), version=F("version") + 1, updated_at=timezone.now()
                )
        for ids in _in_batches(pending_with, batch_size):
            with transaction.atomic():
                completion_fixed += _bump(ids, completed_at=None)
    return NormalizeResult(titles_trimmed, tags_renamed, tags_merged, completion_fixed)
