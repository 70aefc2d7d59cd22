"""Every read of tasks and tags. Ownership is enforced here: every query starts from the user.

The list and the detail are hand-written SQL (tasks/sql.py) returning the API's task dicts: they are
the hottest reads, and one statement each (the list: one more for its counts and revision) is what
keeps them cheap. The rarer reads (stats, tags) use the ORM.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import User
from tasks import recurrence as recurrence_rules
from tasks import sql
from tasks.errors import SyncExpired, TaskNotFound
from tasks.models import Tag, Task
from tasks.rules import tag_key

# sort name -> (SQL of the sort key for alias `t`, whether its values are datetimes)
SORTS = {
    "created": ("t.created_at", True),
    "updated": ("t.updated_at", True),
    "due_date": ("t.due_date", True),
    "priority": ("t.priority", False),
    "title": ("LOWER(t.title)", False),
}
SORT_CHOICES = [prefix + name for name in SORTS for prefix in ("", "-")]
STATUSES = ["all", "pending", "completed"]


class InvalidCursor(ValueError):
    """The cursor was not issued by us for this user and this sort."""


@dataclass(frozen=True)
class TaskListParams:
    status: str = "all"
    priorities: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    search: str = ""
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    updated_since: datetime | None = None
    sort: str = "-created"
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class TaskListState:
    """What identifies the current state of a user's list: the revision of their tasks (which moves
    on any change, by any writer), and for `overdue` lists the latest due date already passed."""

    revision: int
    passed_due: datetime | None
    total: int
    completed: int
    tag_ids: list[int] | None = None  # of the tags filtered by (those that exist)


@dataclass(frozen=True)
class TaskPage:
    tasks: list[dict[str, Any]]
    total: int
    next_cursor: str | None


def task_get(*, user: User, task_id: int) -> dict[str, Any]:
    """The caller's task as the API shows it. Another user's task is not found: ids do not leak."""
    row = sql.task_row(user_id=user.pk, task_id=task_id)
    if row is None:
        raise TaskNotFound(task_id)
    return sql.dialect().to_task(row)


def task_occurrences(*, user: User, task_id: int, limit: int) -> list[datetime]:
    """The next `limit` due dates of the task's series after its own (docs/API.md §6)."""
    row = sql.task_row(user_id=user.pk, task_id=task_id)
    if row is None:
        raise TaskNotFound(task_id)
    d = sql.dialect()
    recurrence, timezone_name = row[11], row[12]
    due_date, anchor = d.to_datetime(row[7]), d.to_datetime(row[13])
    if recurrence is None or due_date is None:
        return []
    return recurrence_rules.occurrences_after(
        recurrence=recurrence,
        timezone_name=timezone_name,
        anchor=anchor or due_date,
        after=due_date,
        limit=limit,
    )


# --- The list -------------------------------------------------------------------------------------
def _conditions(
    params: TaskListParams, user_id: str, a: str, now: datetime, tag_ids: list[int] | None = None
) -> tuple[str, list[Any]]:
    """The WHERE clause of the filters for table alias `a`, and its parameters. With `tag_ids` (the
    ids of the tags named, already looked up), a tag filter is a probe of the task-tag index."""
    d = sql.dialect()
    clauses, args = [f"{a}.user_id = %s"], [user_id]
    if params.status != "all":
        clauses.append(f"{a}.completed = {'TRUE' if params.status == 'completed' else 'FALSE'}")
    if params.priorities:
        clauses.append(f"{a}.priority IN ({', '.join(['%s'] * len(params.priorities))})")
        args += params.priorities
    for tag_id in tag_ids or []:
        clauses.append(f"EXISTS (SELECT 1 FROM {sql.LINK} l WHERE l.task_id = {a}.id AND l.tag_id = %s)")  # noqa: S608
        args.append(tag_id)
    if tag_ids is None:
        for key in _tag_keys(params):
            # The tag's owner is named (always the task's): its (user, key) index finds the one tag.
            clauses.append(
                f"EXISTS (SELECT 1 FROM {sql.LINK} l JOIN {sql.TAG} g ON g.id = l.tag_id "  # noqa: S608
                f"WHERE l.task_id = {a}.id AND g.user_id = %s AND g.key = %s)"
            )
            args += [user_id, key]
    if params.search:
        # A literal substring, case-insensitive beyond ASCII on both databases: SQLite's LIKE folds
        # only ASCII, while its REGEXP (Python's re) and PostgreSQL's ~* fold Unicode.
        pattern = re.escape(params.search)
        title, description = d.iregex.format(column=f"{a}.title"), d.iregex.format(column=f"{a}.description")
        clauses.append(f"({title} OR {description})")
        args += [pattern, pattern]
    if params.due_before is not None:
        clauses.append(f"{a}.due_date < %s")
        args.append(d.datetime_param(params.due_before))
    if params.due_after is not None:
        clauses.append(f"{a}.due_date >= %s")
        args.append(d.datetime_param(params.due_after))
    if params.overdue is not None:
        overdue = f"{a}.completed = FALSE AND {a}.due_date IS NOT NULL AND {a}.due_date < %s"
        clauses.append(f"({overdue})" if params.overdue else f"NOT ({overdue})")
        args.append(d.datetime_param(now))
    if params.updated_since is not None:
        clauses.append(f"{a}.updated_at > %s")
        args.append(d.datetime_param(params.updated_since))
    return " AND ".join(clauses), args


# The parameters that choose a page, not which tasks match: they do not change the total.
_PAGING = {"sort": "-created", "limit": 100, "cursor": None}


def _counted_by_revision(params: TaskListParams) -> bool:
    """Whether the total comes from the user's TaskCount row (no filter but `status`)."""
    return replace(params, status="all", **_PAGING) == TaskListParams()


def _tag_keys(params: TaskListParams) -> list[str]:
    return list(dict.fromkeys(tag_key(name) for name in params.tags))


def task_list_state(*, user: User, params: TaskListParams, now: datetime | None = None) -> TaskListState:
    """One row: the user's revision and counts (kept by triggers), for `overdue` lists the latest
    due date that has passed, and the ids of the tags the list filters by. What the list's ETag is
    made of, read without any task row; the tag ids spare the page's statement two joins per tag."""
    d = sql.dialect()
    passed_due, tag_ids, args = "NULL", "NULL", []
    if params.overdue is not None:
        # A pending task's due date passing changes an overdue list: the newest passed one is the
        # last (user, due_date) index entry before now.
        passed_due = (
            f"(SELECT MAX(p.due_date) FROM {sql.TASK} p "  # noqa: S608
            "WHERE p.user_id = %s AND p.completed = FALSE AND p.due_date < %s)"
        )
        args += [user.pk, d.datetime_param(now or timezone.now())]
    keys = _tag_keys(params)
    if keys:
        placeholders = ", ".join(["%s"] * len(keys))
        tag_ids = d.id_list(
            f"SELECT g.id FROM {sql.TAG} g WHERE g.user_id = %s AND g.key IN ({placeholders})"  # noqa: S608
        )
        args += [user.pk, *keys]
    row = sql.fetch_one(
        f"SELECT c.revision, {passed_due}, {tag_ids}, c.total, c.completed FROM (SELECT 1 AS one) AS one "  # noqa: S608
        f"LEFT JOIN {sql.COUNT} c ON c.user_id = %s",
        [*args, user.pk],
    )
    revision, passed, found_tags, total, completed = row
    return TaskListState(
        revision or 0,
        d.to_datetime(passed),
        total or 0,
        completed or 0,
        d.to_ids(found_tags) if keys else None,
    )


def task_list(
    *, user: User, params: TaskListParams, state: TaskListState | None = None, now: datetime | None = None
) -> TaskPage:
    """One page of the user's tasks matching `params`, in keyset order, with the total count.

    `state` (from task_list_state) gives the total of an unfiltered or status-only list (so it costs
    the same at 100 and 100,000 tasks); otherwise the total is counted in the page's own statement.
    """
    d = sql.dialect()
    now = now or timezone.now()
    descending = params.sort.startswith("-")
    sort_name = params.sort.lstrip("-")
    key, _ = SORTS[sort_name]
    nullable = sort_name == "due_date"
    tag_ids = state.tag_ids if state is not None else None
    if tag_ids is not None and len(tag_ids) < len(_tag_keys(params)):
        return TaskPage([], 0, None)  # a tag named does not exist: no task carries it
    where, args = _conditions(params, user.pk, "t", now, tag_ids)
    if params.cursor:
        value, last_id = decode_cursor(user=user, sort=params.sort, cursor=params.cursor)
        condition, cursor_args = _after(key, descending, value, last_id, nullable)
        where += f" AND {condition}"
        args += cursor_args
    counted = state is not None and _counted_by_revision(params)
    total_column, total_args = "NULL", []
    if not counted:
        count_where, total_args = _conditions(params, user.pk, "c", now, tag_ids)
        total_column = f"(SELECT COUNT(*) FROM {sql.TASK} c WHERE {count_where})"  # noqa: S608
    direction = "DESC" if descending else "ASC"
    # NULLS LAST only where NULLs exist: on a NOT NULL column it would stop PostgreSQL from reading
    # the index backwards and make it sort every one of the user's tasks for each page.
    nulls = " NULLS LAST" if nullable else ""
    rows = sql.fetch_all(
        f"SELECT {d.task_columns('t')}, {key}, {total_column} FROM {sql.TASK} t "  # noqa: S608
        f"WHERE {where} ORDER BY {key} {direction}{nulls}, t.id {direction} LIMIT %s",
        [*total_args, *args, params.limit + 1],
    )
    if counted:
        total = {"all": state.total, "pending": state.total - state.completed, "completed": state.completed}[
            params.status
        ]
    elif rows:
        total = rows[0][sql.REMINDERS + 2]
    elif params.cursor:  # past the end: the page is empty but the filters still match tasks
        count_where, total_args = _conditions(params, user.pk, "c", now, tag_ids)
        total = sql.fetch_one(f"SELECT COUNT(*) FROM {sql.TASK} c WHERE {count_where}", total_args)[0]  # noqa: S608
    else:
        total = 0
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        sort_value = last[sql.REMINDERS + 1]
        value = d.to_datetime(sort_value) if SORTS[sort_name][1] else sort_value
        next_cursor = encode_cursor(user=user, sort=params.sort, value=value, last_id=last[0])
    to_task = d.to_task
    return TaskPage([to_task(row) for row in rows], total, next_cursor)


def _after(key: str, descending: bool, value, last_id: int, nullable: bool) -> tuple[str, list[Any]]:
    """Rows strictly after (value, last_id) in the sort order; NULLs sort last either way.

    A row comparison, `(key, id) < (value, last_id)`, which PostgreSQL turns into one range of
    the (user, key, id) index, so a deep page costs what the first page does (docs/EXPLAIN.md).
    """
    beyond = "<" if descending else ">"
    if value is None:  # already among the NULLs at the end
        return f"(t.due_date IS NULL AND t.id {beyond} %s)", [last_id]
    if isinstance(value, datetime):
        value = sql.dialect().datetime_param(value)
    condition = f"({key}, t.id) {beyond} (%s, %s)"
    if nullable:
        condition = f"({condition} OR t.due_date IS NULL)"
    return condition, [value, last_id]


# --- Cursors: a compact payload and a keyed MAC bound to the user ---------------------------------
@cache
def _cursor_key(secret: str) -> bytes:
    return hashlib.sha256(b"tasks.list.cursor:" + secret.encode()).digest()


def _mac(user_id: str, payload: bytes) -> bytes:
    key = _cursor_key(settings.SECRET_KEY)
    return hmac.new(key, user_id.encode() + b"\0" + payload, hashlib.sha256).digest()[:18]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_cursor_payload(*, user: User, payload: Any) -> str:
    """A cursor carrying `payload` (JSON), signed for `user`."""
    data = orjson.dumps(payload)
    return f"{_b64(data)}.{_b64(_mac(user.pk, data))}"


def encode_cursor(*, user: User, sort: str, value, last_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return sign_cursor_payload(user=user, payload=[sort, value, last_id])


def decode_cursor(*, user: User, sort: str, cursor: str) -> tuple[object, int]:
    invalid = InvalidCursor("The cursor is not valid; start again from the first page.")
    try:
        encoded, _, encoded_mac = cursor.partition(".")
        data, mac = _unb64(encoded), _unb64(encoded_mac)
    except (ValueError, TypeError):
        raise invalid from None
    if _b64(data) != encoded or _b64(mac) != encoded_mac:
        raise invalid  # only our own (canonical) encoding: no two strings are one cursor
    if not hmac.compare_digest(mac, _mac(user.pk, data)):
        # Signed for someone else, or not by us: either way not this listing's.
        raise InvalidCursor("The cursor belongs to another listing, or is not valid.")
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise invalid from None
    if not isinstance(payload, list) or len(payload) != 3:
        raise invalid
    cursor_sort, value, last_id = payload
    if cursor_sort != sort:
        raise InvalidCursor("The cursor was issued for another sort order.")
    # Each value is checked against what this sort compares, so a cursor of another shape (an older
    # release's) is a 400, never a database error.
    if isinstance(last_id, bool) or not isinstance(last_id, int) or not 0 < last_id < 2**63:
        raise invalid
    name = sort.lstrip("-")
    if value is not None:
        try:
            if SORTS[name][1]:
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError(value)
            elif isinstance(value, bool) or not isinstance(value, str if name == "title" else int):
                raise TypeError(value)
        except (TypeError, ValueError):
            raise invalid from None
    elif name != "due_date":
        raise invalid
    return value, last_id


# --- Change feed (docs/API.md §8, docs/SYNC.md) ---------------------------------------------------
CHANGES_LIMIT_DEFAULT, CHANGES_LIMIT_MAX = 500, 1000
_AFTER_ALL = 2**63 - 1  # a position's id past every id: "everything of that change number was read"


class InvalidSyncToken(ValueError):
    """The token is malformed, tampered with, or another user's."""


@dataclass(frozen=True)
class ChangePosition:
    """Where a client stands in its feed: every change up to (seq, last_id) in (change_seq, id)
    order was given to it, and tombstones up to `floor` concern tasks it never had (its snapshot
    started after them)."""

    seq: int = 0
    last_id: int = 0
    floor: int = 0


@dataclass(frozen=True)
class ChangePage:
    changes: list[dict[str, Any]]
    position: ChangePosition
    has_more: bool


def task_changes(*, user: User, since: ChangePosition | None, limit: int) -> ChangePage:
    """The user's changes after `since` (or, without it, the first page of a snapshot), at most
    `limit`: tasks in their current state as upserts, deletions as `{"op": "delete", "id"}`.

    Raises SyncExpired when tombstones the position needs may have been purged. When the position
    is at the end and no change number was taken since, this reads one tasks_taskcount row and no
    task. Why following positions can neither skip nor repeat a change: docs/SYNC.md.
    """
    counter, purged = sql.change_state(user_id=user.pk)
    if since is None:
        # A snapshot: every task; tombstones up to the counter read before the page are of tasks
        # deleted before it, which this client never had.
        since = ChangePosition(0, 0, counter)
    else:
        if max(since.seq, since.floor) < purged:
            raise SyncExpired()
        if since.last_id == _AFTER_ALL and counter <= since.seq:
            return ChangePage([], since, False)
    purged, rows = sql.changes_page(
        user_id=user.pk, seq=since.seq, last_id=since.last_id, floor=since.floor, limit=limit + 1
    )
    if max(since.seq, since.floor) < purged:
        raise SyncExpired()  # purged between the two reads
    has_more = len(rows) > limit
    rows = rows[:limit]
    d = sql.dialect()
    changes = [
        {"op": "upsert", "task": d.to_task(row[2:])}
        if row[0] == sql.CHANGE_KIND_UPSERT
        else {"op": "delete", "id": row[2]}
        for row in rows
    ]
    if has_more:
        position = ChangePosition(rows[-1][1], rows[-1][2], since.floor)
    else:
        # Everything committed up to `counter` (read before the page) was in the page's snapshot.
        last = rows[-1][1] if rows else since.seq
        position = ChangePosition(max(last, counter, since.seq), _AFTER_ALL, since.floor)
    return ChangePage(changes, position, has_more)


@cache
def _sync_key(secret: str) -> bytes:
    return hashlib.sha256(b"tasks.changes.token:" + secret.encode()).digest()


def _sync_mac(user: User, payload: bytes) -> bytes:
    # Bound to the user and to when the account was made: a user deleted and made again under the
    # same id starts a new change counter, which the old tokens must not be read against.
    joined = user.date_joined.isoformat() if user.date_joined else ""
    message = f"{user.pk}\0{joined}\0".encode() + payload
    return hmac.new(_sync_key(settings.SECRET_KEY), message, hashlib.sha256).digest()[:18]


def encode_sync_token(*, user: User, position: ChangePosition) -> str:
    data = orjson.dumps([position.seq, position.last_id, position.floor])
    return f"{_b64(data)}.{_b64(_sync_mac(user, data))}"


def decode_sync_token(*, user: User, token: str) -> ChangePosition:
    invalid = InvalidSyncToken(
        "Not a sync token of yours: use `next` from a previous answer, or omit `since`."
    )
    if len(token) > 200:
        raise invalid
    try:
        encoded, _, encoded_mac = token.partition(".")
        data, mac = _unb64(encoded), _unb64(encoded_mac)
    except (ValueError, TypeError):
        raise invalid from None
    if _b64(data) != encoded or _b64(mac) != encoded_mac:
        raise invalid
    if not hmac.compare_digest(mac, _sync_mac(user, data)):
        raise invalid
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise invalid from None
    if (
        not isinstance(payload, list)
        or len(payload) != 3
        or not all(type(value) is int and 0 <= value <= _AFTER_ALL for value in payload)
    ):
        raise invalid
    return ChangePosition(*payload)


def task_stats(*, user: User) -> dict[str, int]:
    now = timezone.now()
    counts = Task.objects.owned_by(user).aggregate(
        n_total=Count("id"),
        n_completed=Count("id", filter=Q(completed=True)),
        n_overdue=Count("id", filter=Q(completed=False, due_date__lt=now)),
    )
    return {
        "total": counts["n_total"],
        "completed": counts["n_completed"],
        "pending": counts["n_total"] - counts["n_completed"],
        "overdue": counts["n_overdue"],
    }


def tag_list(*, user: User) -> list[dict]:
    """The user's tags on at least one task (any status), sorted case-insensitively."""
    tags = (
        Tag.objects.filter(user=user)
        .annotate(task_count=Count("tasks"))
        .filter(task_count__gt=0)
        .order_by("key", "id")
        .values("name", "task_count")
    )
    return list(tags)
