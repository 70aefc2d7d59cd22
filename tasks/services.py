"""Every write to tasks and tags, for the API, the admin and the commands alike."""

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from tasks.models import IdempotencyKey, Priority, Tag, Task, merge_tag_names, tag_key
from todo_project.exceptions import IdempotencyConflict, IdempotencyInProgress, PreconditionFailed

IDEMPOTENCY_TTL = timedelta(hours=24)
TaskThrough = Task.tags.through


# --- Tags -----------------------------------------------------------------------------------------
def tags_get_or_create(*, user: User, names: Iterable[str]) -> list[Tag]:
    """The user's tags for these names, created where missing, in one statement.

    An existing tag keeps the spelling the user first gave it. ON CONFLICT makes it safe when two
    requests of the same user create the same tag at once (PostgreSQL and SQLite >= 3.35 alike).
    """
    names = merge_tag_names(names)
    if not names:
        return []
    quote = connection.ops.quote_name
    table = quote(Tag._meta.db_table)
    user_col, name_col, key_col = quote("user_id"), quote("name"), quote("key")
    values = ", ".join(["(%s, %s, %s)"] * len(names))
    params: list[Any] = []
    for name in names:
        params += [user.pk, name, tag_key(name)]
    # Identifiers are our own quoted names; every value is a parameter.
    sql = (
        f"INSERT INTO {table} ({user_col}, {name_col}, {key_col}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT ({user_col}, {key_col}) DO UPDATE SET {key_col} = EXCLUDED.{key_col} "
        f"RETURNING id, {name_col}, {key_col}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    columns = ["id", "name", "key"]
    by_key = {}
    for row in rows:
        tag = Tag.from_db(connection.alias, columns, row)  # a saved instance, bound to this database
        tag.user_id = user.pk
        by_key[tag.key] = tag
    return [by_key[tag_key(name)] for name in names]


def _cache_tags(task: Task, tags: list[Tag]) -> None:
    """Fill `task.tags.all()` with tags we already hold, as prefetch_related would (saves a query)."""
    queryset = Tag.objects.filter(pk__in=[tag.pk for tag in tags])
    queryset._result_cache = list(tags)
    queryset._prefetch_done = True
    task._prefetched_objects_cache = {**getattr(task, "_prefetched_objects_cache", {}), "tags": queryset}


def _set_task_tags(task: Task, names: list[str], current: list[Tag] | None) -> bool:
    """Make the task carry exactly these tags. Returns whether anything changed."""
    tags = tags_get_or_create(user=task.user, names=names)
    current_ids = {tag.pk for tag in current or []}
    wanted_ids = {tag.pk for tag in tags}
    if current is not None and current_ids == wanted_ids:
        return False
    if current_ids - wanted_ids:
        TaskThrough.objects.filter(task_id=task.pk, tag_id__in=current_ids - wanted_ids).delete()
    if wanted_ids - current_ids:
        TaskThrough.objects.bulk_create(
            [TaskThrough(task_id=task.pk, tag_id=tag_id) for tag_id in wanted_ids - current_ids]
        )
    _cache_tags(task, tags)
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
@transaction.atomic
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
    now = timezone.now()
    task = Task.objects.create(
        user=user,
        title=title,
        description=description,
        completed=completed,
        completed_at=now if completed else None,
        priority=priority,
        due_date=due_date,
        created_at=now,
        updated_at=now,
    )
    _set_task_tags(task, list(tags), current=None)
    return task


def if_match_satisfied(if_match: str | None, etag: str) -> bool:
    """RFC 9110 If-Match: `*` or any listed strong validator equal to the current one."""
    if if_match is None:
        return True
    candidates = [candidate.strip() for candidate in if_match.split(",")]
    return "*" in candidates or etag in candidates


def _task_for_update(*, user: User, task_id: int, if_match: str | None) -> Task:
    """The caller's task, row-locked until the transaction ends, after the If-Match check."""
    task = Task.objects.owned_by(user).with_tags().select_for_update().filter(pk=task_id).first()
    if task is None:
        raise Http404(f"Task {task_id} was not found.")
    if not if_match_satisfied(if_match, task.etag):
        raise PreconditionFailed()
    return task


_SIMPLE_FIELDS = ("title", "description", "priority", "due_date")


@transaction.atomic
def task_update(*, user: User, task_id: int, changes: dict[str, Any], if_match: str | None = None) -> Task:
    """Apply `changes` (any of title, description, completed, priority, due_date, tags).

    Only a write that changes something bumps `version` and `updated_at`.
    """
    task = _task_for_update(user=user, task_id=task_id, if_match=if_match)
    now = timezone.now()
    dirty = [field for field in _SIMPLE_FIELDS if field in changes and getattr(task, field) != changes[field]]
    for field in dirty:
        setattr(task, field, changes[field])
    if "completed" in changes and changes["completed"] != task.completed:
        task.completed = changes["completed"]
        task.completed_at = now if task.completed else None
        dirty += ["completed", "completed_at"]
    tags_changed = False
    if "tags" in changes:
        tags_changed = _set_task_tags(task, changes["tags"], current=list(task.tags.all()))
    if dirty or tags_changed:
        task.version += 1
        task.updated_at = now
        task.save(update_fields=[*dirty, "version", "updated_at"])
    return task


@transaction.atomic
def task_set_completed(
    *, user: User, task_id: int, completed: bool | None, if_match: str | None = None
) -> Task:
    """Set `completed`, or toggle it when `completed` is None."""
    task = _task_for_update(user=user, task_id=task_id, if_match=if_match)
    target = (not task.completed) if completed is None else completed
    if target != task.completed:
        now = timezone.now()
        task.completed = target
        task.completed_at = now if target else None
        task.version += 1
        task.updated_at = now
        task.save(update_fields=["completed", "completed_at", "version", "updated_at"])
    return task


@transaction.atomic
def task_delete(*, user: User, task_id: int, if_match: str | None = None) -> None:
    task = _task_for_update(user=user, task_id=task_id, if_match=if_match)
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
    status_code: int
    body: dict
    location: str
    etag: str
    replayed: bool = False


def request_fingerprint(data: Any) -> str:
    """The same JSON value gives the same fingerprint, whatever its key order or spacing."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


@transaction.atomic
def idempotent_create(
    *, user: User, key: str, fingerprint: str, perform: Callable[[], StoredResponse]
) -> StoredResponse:
    """Run `perform` once per (user, key) within 24 hours; repeats get its stored response.

    The key row is inserted in the same transaction as the task, so a concurrent request with the
    same key waits on the unique index until the first commits, then replays its response.
    """
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)
    except IntegrityError:
        record = IdempotencyKey.objects.select_for_update().get(user=user, key=key)
        if record.created_at < timezone.now() - IDEMPOTENCY_TTL:
            record.created_at, record.fingerprint, record.status_code = timezone.now(), fingerprint, None
            record.response_body, record.location, record.etag = None, "", ""
        elif record.fingerprint != fingerprint:
            raise IdempotencyConflict() from None
        elif record.status_code is None:
            raise IdempotencyInProgress() from None
        else:
            return StoredResponse(
                record.status_code, record.response_body, record.location, record.etag, replayed=True
            )
    response = perform()
    record.status_code, record.response_body = response.status_code, response.body
    record.location, record.etag = response.location, response.etag
    record.save()
    return response


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
