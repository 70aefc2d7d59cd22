"""Every write to tasks and tags, for the API, the admin and the commands alike."""

import hashlib
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone as django_timezone

from accounts.models import User
from tasks import recurrence as recurrence_rules
from tasks import reminders as reminder_rules
from tasks import rules, sql
from tasks.errors import TaskNotFound, VersionConflict
from tasks.models import (
    IdempotencyKey,
    Priority,
    Reminder,
    Tag,
    Task,
    TaskCount,
    TaskEvent,
    TaskEventKind,
)
from tasks.recurrence import RECURRENCE_NEEDS_DUE_DATE
from tasks.reminders import ReminderSpec
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
# Writes of one task: one statement in the common case (RETURNING the task with its tag names and
# reminders), a second only to tell "not found" from "version conflict" from "nothing to change".
# A write that spawns the next occurrence of a recurring task, or moves a task's reminders, takes
# the locked path instead (`_write_locked`): the task's row locked, everything in one transaction.
_SIMPLE_FIELDS = ("title", "description", "priority", "due_date", "completed", "recurrence", "timezone")
# Fields only the locked path writes: they are compared with, or depend on, what is stored.
_LOCKED_FIELDS = frozenset({"tags", "recurrence", "timezone", "reminders"})


def task_from_row(row) -> Task:
    """A Task instance (with `tag_names` and `reminder_rows`) from a row of tasks.sql's task columns."""
    d = sql.dialect()
    data = d.to_task(row)
    values = []
    for index, column in enumerate(sql.COLUMNS):
        if column == "priority":
            values.append(row[index])
        elif column == "recurrence_anchor":
            values.append(d.to_datetime(row[index]))
        else:
            values.append(data[column])
    task = Task.from_db(connection.alias, list(sql.COLUMNS), values)
    task.tag_names = data["tags"]
    task.reminder_rows = d.reminder_rows(row[sql.REMINDERS])
    return task


def _needs_due_date(
    *, recurrence: str | None, specs: Sequence[ReminderSpec], due_date, reminders_written: bool
):
    """The rules that tie recurrence and relative reminders to a due date (docs/API.md §6, §7)."""
    if due_date is not None:
        return
    if recurrence is not None:
        raise ValidationError({"due_date": [RECURRENCE_NEEDS_DUE_DATE]})
    relative = [index for index, spec in enumerate(specs) if spec.before]
    if relative:
        if reminders_written:
            raise ValidationError(
                {
                    "reminders": [
                        f"reminders[{index}].before: {reminder_rules.NEEDS_DUE_DATE}" for index in relative
                    ]
                }
            )
        raise ValidationError({"due_date": [reminder_rules.KEEP_DUE_DATE]})


def task_create(
    *,
    user: User,
    title: str,
    description: str = "",
    completed: bool = False,
    priority: int = Priority.NONE,
    due_date: datetime | None = None,
    tags: Iterable[str] = (),
    recurrence: str | None = None,
    timezone: str = "UTC",
    reminders: Sequence[ReminderSpec] = (),
    recurrence_anchor: datetime | None = None,
) -> Task:
    """A new task with its tags: one statement on PostgreSQL; on SQLite, one per part, in a
    transaction when there are tags. Its reminders are one statement more, in the same transaction.
    A task created already completed spawns nothing (only completing a task does).
    `recurrence_anchor` is the series' first due date (a spawned occurrence's); default `due_date`."""
    reminders = list(reminders)
    _needs_due_date(recurrence=recurrence, specs=reminders, due_date=due_date, reminders_written=True)
    values = {"title": title, "description": description, "completed": completed}
    values |= {"priority": priority, "due_date": due_date}
    if recurrence is not None or timezone != "UTC":
        values |= {"recurrence": recurrence, "timezone": timezone}
        values["recurrence_anchor"] = (recurrence_anchor or due_date) if recurrence is not None else None
    names = merge_tag_names(tags)
    several_statements = bool(reminders) or (bool(names) and connection.vendor != "postgresql")
    # A single statement needs no transaction of its own (a BEGIN and a COMMIT are round trips too).
    with transaction.atomic(savepoint=False) if several_statements else nullcontext():
        now = django_timezone.now()
        row = sql.task_insert_row(
            user_id=user.pk,
            values=values,
            now=now,
            tag_names=names,
            tag_keys=[tag_key(name) for name in names],
        )
        task = task_from_row(row)
        if reminders:
            rows = reminder_rules.settle(
                old=[],
                specs=reminders,
                due_date=due_date,
                timezone_name=timezone,
                completed=completed,
                now=now,
            )
            task.reminder_rows = sql.reminders_replace(
                task_id=task.pk, user_id=user.pk, rows=rows, had_any=False
            )
    return task


def _unwritten(*, user: User, task_id: int, versions: Sequence[int] | None) -> Task:
    """After a conditional write changed nothing: the task as it is, or why it was not written."""
    row = sql.task_row(user_id=user.pk, task_id=task_id)
    if row is None:
        raise TaskNotFound(task_id)
    task = task_from_row(row)
    if versions is not None and task.version not in versions:
        raise VersionConflict()
    return task


def _guards(values: dict[str, Any]) -> list[str]:
    """The conditions under which a one-statement write is all there is to do: it spawns nothing
    and moves no reminder. A task they stop takes the locked path."""
    guards = []
    if values.get("completed") is True:
        guards.append(sql.GUARD_NO_SPAWN)
    if "due_date" in values:
        guards.append(sql.GUARD_NOT_RECURRING)  # re-anchors the series, or clears a needed due date
    if "due_date" in values or ("completed" in values and not _settles_in_sql()):
        guards.append(sql.GUARD_NO_REMINDERS)
    return guards


def _settles_in_sql() -> bool:
    """Whether a change of `completed` settles the task's reminders in its own statement
    (PostgreSQL's data-modifying WITH); on SQLite a task with reminders takes the locked path."""
    return connection.vendor == "postgresql"


def _settled(row, now: datetime) -> Task:
    """The task of a one-statement write that settled its reminders in SQL: its RETURNING shows
    them as they were, so the same rule (reminders.after_completion) is applied to them here."""
    task = task_from_row(row)
    if task.reminder_rows:
        task.reminder_rows = reminder_rules.after_completion(
            task.reminder_rows, completed=task.completed, now=now
        )
    return task


def _stopped_by_guard(task: Task) -> bool:
    return task.recurrence is not None or bool(task.reminder_rows)


def task_update(
    *, user: User, task_id: int, changes: dict[str, Any], versions: Sequence[int] | None = None
) -> Task:
    """Apply `changes` (any of title, description, completed, priority, due_date, tags, recurrence,
    timezone, reminders) if the task's version is one of `versions` (any version when None).
    Raises TaskNotFound, VersionConflict, or ValidationError (a rule tying fields together).

    Only a write that changes something bumps `version` and `updated_at`. Completing a recurring
    task spawns its next occurrence, in the same transaction.
    """
    if changes.keys() & _LOCKED_FIELDS:
        return _write_locked(user=user, task_id=task_id, changes=changes, versions=versions)[0]
    values = {field: changes[field] for field in _SIMPLE_FIELDS if field in changes}
    guards = _guards(values)
    now = django_timezone.now()
    settle = "completed" in values and _settles_in_sql()
    row = sql.task_update_row(
        user_id=user.pk,
        task_id=task_id,
        values=values,
        versions=versions,
        now=now,
        conditions=guards,
        settle_reminders=settle,
    )
    if row:
        return _settled(row, now) if settle else task_from_row(row)
    task = _unwritten(user=user, task_id=task_id, versions=versions)
    if guards and _stopped_by_guard(task):
        return _write_locked(user=user, task_id=task_id, changes=changes, versions=versions)[0]
    return task


def task_set_completed(
    *, user: User, task_id: int, completed: bool | None, versions: Sequence[int] | None = None
) -> Task:
    """Set `completed`, or toggle it when `completed` is None (one statement either way, unless the
    task recurs or has reminders)."""
    if completed is not None:
        return task_update(user=user, task_id=task_id, changes={"completed": completed}, versions=versions)
    now = django_timezone.now()
    settle = _settles_in_sql()
    row = sql.task_toggle_row(
        user_id=user.pk,
        task_id=task_id,
        versions=versions,
        now=now,
        conditions=[sql.GUARD_NO_SPAWN] if settle else [sql.GUARD_NO_SPAWN, sql.GUARD_NO_REMINDERS],
        settle_reminders=settle,
    )
    if row is not None:
        return _settled(row, now) if settle else task_from_row(row)
    task = _unwritten(user=user, task_id=task_id, versions=versions)
    if _stopped_by_guard(task):
        return _write_locked(user=user, task_id=task_id, changes={}, versions=versions, toggle=True)[0]
    raise VersionConflict()  # the task exists, so only its version can have stopped the toggle


class _SpawnClaimed(Exception):
    """Another completion claimed the spawn first: this transaction is rolled back."""


def _write_locked(
    *,
    user: User,
    task_id: int,
    changes: dict[str, Any],
    versions: Sequence[int] | None,
    toggle: bool = False,
) -> tuple[Task, int | None]:
    """Any write, with the task's row locked, in one transaction: tags, reminders (their states
    settled by tasks/reminders.py), and, when the write completes a recurring task, its next
    occurrence. Returns the task and the id of the task it spawned (or None).

    The spawn is claimed by the task's own update (`... WHERE next_task_id IS NULL`): when two
    completions race (SQLite takes no row lock), the second finds it claimed and rolls back.
    """
    try:
        return _write_locked_once(
            user=user, task_id=task_id, changes=changes, versions=versions, toggle=toggle
        )
    except _SpawnClaimed:
        return _unwritten(user=user, task_id=task_id, versions=None), None


@transaction.atomic
def _write_locked_once(*, user, task_id, changes, versions, toggle) -> tuple[Task, int | None]:
    now = django_timezone.now()
    row = sql.task_row(user_id=user.pk, task_id=task_id, for_update=True)
    if row is None:
        raise TaskNotFound(task_id)
    task = task_from_row(row)
    if versions is not None and task.version not in versions:
        raise VersionConflict()
    if toggle:
        changes = {"completed": not task.completed}
    values = {field: changes[field] for field in _SIMPLE_FIELDS if field in changes}
    after = {field: values.get(field, getattr(task, field)) for field in _SIMPLE_FIELDS}
    old_rows = task.reminder_rows
    specs = list(changes["reminders"]) if "reminders" in changes else [row.spec for row in old_rows]
    _needs_due_date(
        recurrence=after["recurrence"],
        specs=specs,
        due_date=after["due_date"],
        reminders_written="reminders" in changes,
    )
    # The series is anchored at its first due date; writing the rule or the due date starts it anew here.
    if after["recurrence"] is None:
        anchor = None
    elif (
        task.recurrence_anchor is None
        or after["recurrence"] != task.recurrence
        or after["due_date"] != task.due_date
    ):
        anchor = after["due_date"]
    else:
        anchor = task.recurrence_anchor
    if anchor != task.recurrence_anchor:
        values["recurrence_anchor"] = anchor

    tag_names = task.tag_names
    tags_changed = False
    if "tags" in changes:
        tags_changed = _replace_task_tags(task_id, user.pk, list(changes["tags"]))
        tag_names = merge_tag_names(changes["tags"])

    rows = reminder_rules.settle(
        old=old_rows,
        specs=specs,
        due_date=after["due_date"],
        timezone_name=after["timezone"],
        completed=after["completed"],
        now=now,
    )
    specs_changed = specs != [row.spec for row in old_rows]
    if not specs_changed:
        # The same reminders, moved or re-armed: their rows are updated where they stand.
        sql.reminders_update(rows=[new for new, old in zip(rows, old_rows, strict=True) if new != old])
    elif rows != old_rows:
        sql.reminders_replace(task_id=task_id, user_id=user.pk, rows=rows, had_any=bool(old_rows))

    spawned = None
    conditions: list[str] = []
    if after["completed"] and not task.completed and after["recurrence"] and task.next_task_id is None:
        spawned = _spawn(
            user=user, task=task, after=after, anchor=anchor, tag_names=tag_names, rows=rows, now=now
        )
        if spawned is not None:
            values["next_task_id"] = spawned.pk
            conditions.append("next_task_id IS NULL")
    row = sql.task_update_row(
        user_id=user.pk,
        task_id=task_id,
        values=values,
        versions=None,
        now=now,
        always=tags_changed or specs_changed,
        conditions=conditions,
    )
    if row is None and spawned is not None:
        raise _SpawnClaimed()
    if row is None:
        # Nothing of the task itself changed; its reminders' states may have (read them back).
        row = sql.task_row(user_id=user.pk, task_id=task_id) if rows != old_rows else None
    return (task_from_row(row) if row else task), (spawned.pk if spawned else None)


def _spawn(*, user: User, task: Task, after: dict, anchor, tag_names: list[str], rows, now) -> Task | None:
    """The next occurrence of a task being completed, or None when its series is over."""
    due = recurrence_rules.next_occurrence(
        recurrence=after["recurrence"],
        timezone_name=after["timezone"],
        anchor=anchor,
        after=after["due_date"],
    )
    if due is None:
        return None
    relative = [row.spec for row in rows if row.before]
    return task_create(
        user=user,
        title=after["title"],
        description=after["description"],
        priority=after["priority"],
        due_date=due,
        tags=tag_names,
        recurrence=recurrence_rules.successor_recurrence(after["recurrence"]),
        timezone=after["timezone"],
        reminders=relative,
        recurrence_anchor=anchor,
    )


@transaction.atomic
def task_delete(*, user: User, task_id: int, versions: Sequence[int] | None = None) -> None:
    """Delete the task; its reminders go with it (so none of them fires)."""
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
    spawned: list[int] = field(default_factory=list)


@transaction.atomic
def tasks_bulk(*, user: User, action: str, ids: list[int] | None = None) -> BulkResult:
    """complete / reopen / delete the caller's tasks among `ids`, or delete_completed; one transaction.

    Tasks that recur or have reminders are completed and reopened one by one through the locked
    path (spawning, settling reminders); the others in one statement."""
    mine = Task.objects.owned_by(user)
    if action == "delete_completed":
        deleted = mine.completed().delete()[1].get(Task._meta.label, 0)
        return BulkResult(action, deleted, [])
    ids = list(dict.fromkeys(ids or []))
    owned = set(mine.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [task_id for task_id in ids if task_id not in owned]
    targets = mine.filter(pk__in=owned)
    now = django_timezone.now()
    spawned: list[int] = []
    if action in {"complete", "reopen"}:
        completed = action == "complete"
        changing = targets.filter(completed=not completed)
        special = sorted(
            changing.filter(
                Q(recurrence__isnull=False) | Exists(Reminder.objects.filter(task_id=OuterRef("pk")))
            ).values_list("pk", flat=True)
        )
        affected = changing.exclude(pk__in=special).update(
            **rules.completion(completed, now), **rules.bumped(now)
        )
        for task_id in special:
            task, spawned_id = _write_locked(
                user=user, task_id=task_id, changes={"completed": completed}, versions=None
            )
            affected += task.completed == completed
            if spawned_id is not None:
                spawned.append(spawned_id)
    elif action == "delete":
        affected = targets.delete()[1].get(Task._meta.label, 0)
    else:
        raise ValueError(f"Unknown bulk action {action!r}.")
    return BulkResult(action, affected, missing, spawned)


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
    now = django_timezone.now()
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
    cutoff = (now or django_timezone.now()) - IDEMPOTENCY_TTL
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
    cutoff = (now or django_timezone.now()) - older_than
    purged = 0
    while True:
        with transaction.atomic():
            n = sql.tombstones_purge_batch(cutoff=cutoff, batch=batch)
        purged += n
        if n < batch:
            return purged
