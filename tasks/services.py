"""Every write to tasks and tags, for the API, the admin and the commands alike."""

import hashlib
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from tasks import rules, sql
from tasks.errors import TaskNotFound, VersionConflict
from tasks.models import (
    PRIORITY_BY_NAME,
    IdempotencyKey,
    Priority,
    Tag,
    Task,
    TaskCount,
    TaskEvent,
    TaskEventKind,
)
from tasks.rules import merge_tag_names, tag_key

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
    Task.objects.filter(pk__in=task_ids).update(**rules.bumped())
    source.delete()
    return len(task_ids)


# --- Tasks ----------------------------------------------------------------------------------------
# Writes of one task: one statement in the common case (RETURNING the task with its tag names), a
# second only to tell "not found" from "version conflict" from "nothing to change".
_SIMPLE_FIELDS = ("title", "description", "priority", "due_date", "completed")


def task_from_row(row) -> Task:
    """A Task instance (with `tag_names`) from a row of tasks.sql's task columns."""
    data = sql.dialect().to_task(row)
    values = [PRIORITY_BY_NAME[data[c]] if c == "priority" else data[c] for c in sql.COLUMNS]
    task = Task.from_db(connection.alias, list(sql.COLUMNS), values)
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
    if action in {"complete", "reopen"}:
        completed = action == "complete"
        affected = targets.filter(completed=not completed).update(
            **rules.completion(completed, now), **rules.bumped(now)
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


# --- Tags, from the admin -------------------------------------------------------------------------
@transaction.atomic
def tag_delete(*, tag: Tag) -> int:
    """Delete a tag. The tasks that carried it changed, so their version and updated_at move on.
    Returns how many tasks carried it."""
    changed = Task.objects.filter(tags=tag).update(**rules.bumped())
    tag.delete()
    return changed


# --- Change feed and webhook events (docs/SYNC.md) -------------------------------------------------
def task_events_enable(*, user_id: str, enabled: bool) -> None:
    """Turn the webhooks outbox on or off for a user: while on, every committed change of the user's
    tasks writes a TaskEvent row in its own transaction (the triggers of migration 0006 read
    `TaskCount.webhooks_active`). The webhooks service calls this when the user's first active
    webhook appears and when the last one goes. Writes made after this commits are recorded."""
    count = TaskCount.objects.filter(user_id=user_id)
    if not count.update(webhooks_active=enabled) and enabled:
        # No count row yet (no task ever): make one; a concurrent first task may make it first.
        sql.task_count_upsert_webhooks(user_id=user_id, enabled=enabled)
    if connection.vendor == "postgresql":
        # The triggers keep the flag for the rest of the transaction; a later write in this one
        # must read it anew.
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('tasks.change_seq', '', true)")


def task_event_record(
    *, user_id: str, task_id: int, event: str, data: dict[str, Any] | None = None
) -> TaskEvent | None:
    """Put an event that no task write makes (`reminder.due`, from the reminder worker) into the
    webhooks outbox, in the caller's transaction, when the user has an active webhook. Returns the
    row, or None when the user has none (nothing is written)."""
    if event not in TaskEventKind.values:
        raise ValueError(f"Unknown task event {event!r}.")
    if not TaskCount.objects.filter(user_id=user_id, webhooks_active=True).exists():
        return None
    return TaskEvent.objects.create(user_id=user_id, task_id=task_id, event=event, data=data)


def tombstones_purge(
    *, older_than: timedelta | None = None, now: datetime | None = None, batch: int = 5000
) -> int:
    """Delete the change feed's tombstones older than `older_than` (SYNC_TOMBSTONE_DAYS by default)
    and raise each user's `tombstones_purged_through` to the newest change number purged, in the
    same transaction, so that a sync token from before it is answered 410 sync_expired rather than
    silently missing a delete. Works in batches (one short transaction each). Returns how many."""
    from django.conf import settings

    older_than = older_than if older_than is not None else timedelta(days=settings.SYNC_TOMBSTONE_DAYS)
    cutoff = (now or timezone.now()) - older_than
    purged = 0
    while True:
        with transaction.atomic():
            n = sql.tombstones_purge_batch(cutoff=cutoff, batch=batch)
        purged += n
        if n < batch:
            return purged
