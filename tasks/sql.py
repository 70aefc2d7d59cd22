"""The SQL of the hot paths (list, detail, single-task writes), for PostgreSQL and SQLite.

Each read is one statement that brings every task with its tag names (a correlated subquery that
aggregates them in the tags' order), turned into the API's task dicts without model instances:
the ORM's compilation and a model instance per row cost more than the database does for a page
(bench/results/). Writes use `RETURNING`, so a write answers from the statement that made it.
Every value is a parameter; the only text spliced into a statement is this module's own.
The writes apply the write rules of tasks/rules.py in SQL (`completion`: completed_at moves with
completed; `bumped`: every change moves version and updated_at).
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import connection

from tasks import reminders as reminder_rules
from tasks.models import PRIORITY_NAMES, Reminder, Tag, Task, TaskCount, TaskTombstone

try:  # PostgreSQL's driver; absent where only SQLite is used
    import psycopg
    from psycopg.pq import Format

    _TIMESTAMPTZ_OID = psycopg.postgres.types["timestamptz"].oid
    _C_TIMESTAMPTZ_LOADER = psycopg.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
except ImportError:  # pragma: no cover
    _TIMESTAMPTZ_OID = _C_TIMESTAMPTZ_LOADER = None

TASK = Task._meta.db_table
TAG = Tag._meta.db_table
LINK = Task.tags.through._meta.db_table
COUNT = TaskCount._meta.db_table
TOMBSTONE = TaskTombstone._meta.db_table
COLUMNS = (
    "id",
    "user_id",
    "title",
    "description",
    "completed",
    "completed_at",
    "priority",
    "due_date",
    "version",
    "created_at",
    "updated_at",
    "recurrence",
    "timezone",
    "recurrence_anchor",
    "next_task_id",
)
# Positions in a row of `task_columns`: the columns above, then the tag names, then the reminders.
TAGS = len(COLUMNS)
REMINDERS = TAGS + 1
REMINDER = Reminder._meta.db_table


class Dialect:
    """What differs between the two databases: aggregating tag names, regex matching, values."""

    vendor = "postgresql"
    # `COLLATE "C"`: code point order, as Python sorts (the database's default collation may not).
    tag_names = (
        "ARRAY(SELECT g.name FROM {link} l JOIN {tag} g ON g.id = l.tag_id "
        'WHERE l.task_id = {a}.id ORDER BY g.key COLLATE "C", g.name COLLATE "C")'
    )
    # A task's reminders in their order, NULL when it has none (most tasks: nothing to decode).
    reminder_list = (
        '(SELECT json_agg(json_build_array(r.id, r."before", r."at", r.fire_at, r.state, r.sent_at, '
        "r.claimed_until) ORDER BY r.position)::text FROM {reminder} r WHERE r.task_id = {a}.id)"
    )
    iregex = "{column} ~* %s"

    def task_columns(self, alias: str) -> str:
        names = ", ".join(f"{alias}.{column}" for column in COLUMNS)
        tags = self.tag_names.format(link=LINK, tag=TAG, a=alias)
        return f"{names}, {tags}, {self.reminder_list.format(reminder=REMINDER, a=alias)}"

    def reminder_rows(self, value: Any) -> list[reminder_rules.Row]:
        """The stored reminders of a task, from its `reminder_list` column."""
        if not value or value == "[]":
            return []
        to_datetime = self._json_datetime
        return [
            reminder_rules.Row(
                item[0],
                item[1],
                to_datetime(item[2]),
                to_datetime(item[3]),
                item[4],
                to_datetime(item[5]),
                to_datetime(item[6]),
            )
            for item in orjson.loads(value)
        ]

    def reminder_items(self, value: Any) -> list[dict[str, Any]]:
        if not value or value == "[]":
            return []
        return [row.as_item() for row in self.reminder_rows(value)]

    @staticmethod
    def _json_datetime(value: str | None) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def datetime_param(self, value: datetime | None) -> Any:
        return value

    def to_task(self, row: Sequence) -> dict[str, Any]:
        """A row of `task_columns` as the API's task resource (datetimes left to the renderer)."""
        return {
            "id": row[0],
            "user_id": row[1],
            "title": row[2],
            "description": row[3],
            "completed": row[4],
            "completed_at": row[5],
            "priority": PRIORITY_NAMES[row[6]],
            "due_date": row[7],
            "tags": row[TAGS],
            "version": row[8],
            "created_at": row[9],
            "updated_at": row[10],
            "recurrence": row[11],
            "timezone": row[12],
            "next_task_id": row[14],
            "reminders": self.reminder_items(row[REMINDERS]),
        }

    def to_datetime(self, value: Any) -> datetime | None:
        return value

    def id_list(self, subquery: str) -> str:
        """An expression: the ids a one-column subquery selects, as one value (see `to_ids`)."""
        return f"ARRAY({subquery})"

    def to_ids(self, value: Any) -> list[int]:
        return list(value or [])


class SQLiteDialect(Dialect):
    vendor = "sqlite"
    tag_names = (
        "(SELECT json_group_array(name) FROM (SELECT g.name AS name FROM {link} l JOIN {tag} g "
        "ON g.id = l.tag_id WHERE l.task_id = {a}.id ORDER BY g.key, g.name))"
    )
    # An index probe first: most tasks have no reminder, and building an empty array per row costs
    # a third more than the probe does.
    reminder_list = (
        "(CASE WHEN EXISTS (SELECT 1 FROM {reminder} r WHERE r.task_id = {a}.id) THEN "
        '(SELECT json_group_array(json_array(id, "before", "at", fire_at, state, sent_at, claimed_until)) '
        "FROM (SELECT * FROM {reminder} r WHERE r.task_id = {a}.id ORDER BY r.position)) END)"
    )
    # Django registers REGEXP (Python's re) on its SQLite connections; `(?i)` folds Unicode.
    iregex = "{column} REGEXP '(?i)' || %s"

    def datetime_param(self, value: datetime | None) -> Any:
        return connection.ops.adapt_datetimefield_value(value)

    def to_task(self, row: Sequence) -> dict[str, Any]:
        to_datetime = self.to_datetime
        return {
            "id": row[0],
            "user_id": row[1],
            "title": row[2],
            "description": row[3],
            "completed": bool(row[4]),
            "completed_at": to_datetime(row[5]),
            "priority": PRIORITY_NAMES[row[6]],
            "due_date": to_datetime(row[7]),
            "tags": orjson.loads(row[TAGS]),
            "version": row[8],
            "created_at": to_datetime(row[9]),
            "updated_at": to_datetime(row[10]),
            "recurrence": row[11],
            "timezone": row[12],
            "next_task_id": row[14],
            "reminders": self.reminder_items(row[REMINDERS]),
        }

    def id_list(self, subquery: str) -> str:
        return f"(SELECT json_group_array(id) FROM ({subquery}))"  # noqa: S608

    def to_ids(self, value: Any) -> list[int]:
        return orjson.loads(value) if value else []

    def to_datetime(self, value: Any) -> datetime | None:
        # Django stores datetimes in SQLite as naive UTC text, and its converters give naive
        # datetimes for columns declared datetime (computed columns stay text).
        if value is None:
            return None
        if not isinstance(value, datetime):
            value = datetime.fromisoformat(value)
        return value if value.tzinfo else value.replace(tzinfo=UTC)


_DIALECTS = {"postgresql": Dialect(), "sqlite": SQLiteDialect()}


def dialect() -> Dialect:
    try:
        return _DIALECTS[connection.vendor]
    except KeyError:
        vendor = connection.vendor
        raise NotImplementedError(f"tasks.sql is written for PostgreSQL and SQLite, not {vendor}.") from None


def _fast_timestamps(cursor) -> None:
    """Read timestamptz columns with psycopg's own (C) loader.

    Django registers a Python subclass of psycopg's loader on every connection (to pin the time
    zone), which makes each timestamp cost several microseconds: a fifth of a 50-task page. psycopg's
    loader gives the same instant, in the session's time zone, which Django sets to UTC.
    """
    if connection.vendor == "postgresql":
        cursor.cursor.adapters.register_loader(_TIMESTAMPTZ_OID, _C_TIMESTAMPTZ_LOADER)


def fetch_all(sql: str, params: Iterable[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        _fast_timestamps(cursor)
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def fetch_one(sql: str, params: Iterable[Any]) -> tuple | None:
    with connection.cursor() as cursor:
        _fast_timestamps(cursor)
        cursor.execute(sql, list(params))
        return cursor.fetchone()


# --- Single tasks ---------------------------------------------------------------------------------
_DATETIME_COLUMNS = frozenset({"due_date", "recurrence_anchor"})
# Conditions of the one-statement writes (tasks.services): a write they stop needs the locked path,
# which spawns the next occurrence and moves the reminders in one transaction.
GUARD_NO_SPAWN = "(recurrence IS NULL OR next_task_id IS NOT NULL OR completed)"
GUARD_NOT_RECURRING = "recurrence IS NULL"
GUARD_NO_REMINDERS = f"NOT EXISTS (SELECT 1 FROM {REMINDER} r WHERE r.task_id = {TASK}.id)"  # noqa: S608


def task_row(*, user_id: str, task_id: int, for_update: bool = False) -> tuple | None:
    """The user's task with its tag names, or None. `for_update` locks the row (PostgreSQL)."""
    d = dialect()
    lock = " FOR UPDATE OF t" if for_update and d.vendor == "postgresql" else ""
    sql = f"SELECT {d.task_columns('t')} FROM {TASK} t WHERE t.id = %s AND t.user_id = %s{lock}"  # noqa: S608
    return fetch_one(sql, [task_id, user_id])


def task_update_row(
    *,
    user_id: str,
    task_id: int,
    values: dict[str, Any],
    versions: Sequence[int] | None,
    now: datetime,
    always: bool = False,
    conditions: Sequence[str] = (),
    settle_reminders: bool = False,
) -> tuple | None:
    """Write `values` in one statement if any differs from what is stored (or `always`), and, when
    `versions` is given, the stored version is one of them; bump `version` and `updated_at`. The
    task with its tag names, or None when nothing was written (no such task, no version matched,
    or nothing to change).

    `values` may hold any column of COLUMNS but the read-only ones; a change of `completed` sets or
    clears `completed_at`. `conditions` are more of this module's own SQL conditions on the row
    (GUARD_*): when one fails nothing is written, as when the task is not found.
    `settle_reminders` (PostgreSQL only): a change of `completed` also skips or re-arms the task's
    reminders, in the same statement (see `_settling_reminders`).
    """
    d = dialect()
    if versions is not None and not versions:
        return None  # no version can match: the caller tells 404 from 412
    assignments, params, differs, differs_params = [], [], [], []
    for column, value in values.items():
        value = d.datetime_param(value) if column in _DATETIME_COLUMNS else value
        if column == "completed":
            # completed_at only moves when completed does (the CASE reads the row's old values).
            assignments.append(
                "completed_at = CASE WHEN completed = %s THEN completed_at WHEN %s THEN %s ELSE NULL END"
            )
            params += [value, value, d.datetime_param(now)]
        assignments.append(f"{column} = %s")
        params.append(value)
        # NULL-safe inequality on both databases.
        differs.append(f"{column} IS DISTINCT FROM %s" if d.vendor == "postgresql" else f"{column} IS NOT %s")
        differs_params.append(value)
    if not differs and not always:
        return None
    assignments += ["version = version + 1", "updated_at = %s"]
    params.append(d.datetime_param(now))
    where, where_params = ["id = %s", "user_id = %s", *conditions], [task_id, user_id]
    if versions is not None:
        where.append(f"version IN ({', '.join(['%s'] * len(versions))})")
        where_params += versions
    if not always:
        where.append(f"({' OR '.join(differs)})")
        where_params += differs_params
    if settle_reminders and "completed" in values:
        return _settling_reminders(
            assignments,
            params,
            where,
            where_params,
            target="%s",
            target_params=[values["completed"]],
            now=now,
        )
    sql = (
        f"UPDATE {TASK} SET {', '.join(assignments)} WHERE {' AND '.join(where)} "  # noqa: S608
        f"RETURNING {d.task_columns(TASK)}"
    )
    return fetch_one(sql, [*params, *where_params])


def _settling_reminders(
    assignments: list[str],
    params: list[Any],
    where: list[str],
    where_params: list[Any],
    *,
    target: str,
    target_params: list[Any],
    now: datetime,
) -> tuple | None:
    """The task's update (PostgreSQL) with, in the same statement, the reminder states its change
    of `completed` implies (tasks/reminders.py): completing skips the pending ones, reopening re-arms
    the skipped ones whose fire_at is ahead. The task's row is locked first (`t0`), so the reminders
    are settled against the state the update changes. `target` is the SQL of the new `completed`
    (it may read t0.was, the old one). The RETURNING shows the reminders as they were: the caller
    applies the same rule to them (reminders.after_completion)."""
    d = dialect()
    sql = (
        f"WITH t0 AS (SELECT id, completed AS was FROM {TASK} WHERE {' AND '.join(where)} FOR UPDATE), "  # noqa: S608
        f"r AS (UPDATE {REMINDER} SET state = CASE WHEN {target} THEN 'skipped' ELSE 'pending' END "
        f"FROM t0 WHERE {REMINDER}.task_id = t0.id AND t0.was IS DISTINCT FROM {target} AND "
        f"(({target} AND {REMINDER}.state = 'pending') OR "
        f"(NOT {target} AND {REMINDER}.state = 'skipped' AND {REMINDER}.fire_at > %s))) "
        f"UPDATE {TASK} SET {', '.join(assignments)} WHERE id IN (SELECT id FROM t0) "
        f"RETURNING {d.task_columns(TASK)}"
    )
    r_params = [*target_params, *target_params, *target_params, *target_params, d.datetime_param(now)]
    return fetch_one(sql, [*where_params, *r_params, *params])


def task_toggle_row(
    *,
    user_id: str,
    task_id: int,
    versions: Sequence[int] | None,
    now: datetime,
    conditions: Sequence[str] = (),
    settle_reminders: bool = False,
) -> tuple | None:
    """Flip `completed` in one statement (setting or clearing `completed_at`); None when the task
    is not the user's or no version in `versions` matched. `settle_reminders`: as in task_update_row."""
    d = dialect()
    if versions is not None and not versions:
        return None
    version_clause = f" AND version IN ({', '.join(['%s'] * len(versions))})" if versions is not None else ""
    version_clause += "".join(f" AND {condition}" for condition in conditions)
    stamp = d.datetime_param(now)
    if settle_reminders:
        where = [f"id = %s AND user_id = %s{version_clause}"]
        assignments = [
            "completed = NOT completed",
            "completed_at = CASE WHEN completed THEN NULL ELSE %s END",
        ]
        assignments += ["version = version + 1", "updated_at = %s"]
        return _settling_reminders(
            assignments,
            [stamp, stamp],
            where,
            [task_id, user_id, *(versions or [])],
            target="NOT t0.was",
            target_params=[],
            now=now,
        )
    sql = (
        f"UPDATE {TASK} SET completed = NOT completed, "  # noqa: S608
        "completed_at = CASE WHEN completed THEN NULL ELSE %s END, version = version + 1, updated_at = %s "
        f"WHERE id = %s AND user_id = %s{version_clause} RETURNING {d.task_columns(TASK)}"
    )
    return fetch_one(sql, [stamp, stamp, task_id, user_id, *(versions or [])])


def task_insert_row(
    *, user_id: str, values: dict[str, Any], now: datetime, tag_names: Sequence[str] = (), tag_keys=()
) -> tuple:
    """Insert a task with its tags (created where missing) and return its row, tag names included.

    One statement on PostgreSQL (a data-modifying WITH: the task, the tags, the links); on SQLite,
    which has none, one per part, so the caller holds a transaction around it when there are tags.
    """
    d = dialect()
    completed = values.get("completed", False)
    row = {
        "user_id": user_id,
        "title": values["title"],
        "description": values.get("description", ""),
        "completed": completed,
        "completed_at": d.datetime_param(now if completed else None),
        "priority": values.get("priority", 0),
        "due_date": d.datetime_param(values.get("due_date")),
        "recurrence": values.get("recurrence"),
        "timezone": values.get("timezone", "UTC"),
        "recurrence_anchor": d.datetime_param(values.get("recurrence_anchor")),
        "version": 1,
        "created_at": d.datetime_param(now),
        "updated_at": d.datetime_param(now),
    }
    insert = f"INSERT INTO {TASK} ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})"  # noqa: S608
    if not tag_names:
        return fetch_one(f"{insert} RETURNING {d.task_columns(TASK)}", row.values())
    if d.vendor == "postgresql":
        upsert, upsert_params = _tags_upsert_sql(user_id, tag_names, tag_keys)
        columns = ", ".join(f"w.{column}" for column in COLUMNS)
        sql = (
            f"WITH w AS ({insert} RETURNING {', '.join(COLUMNS)}), g AS ({upsert}), "  # noqa: S608
            f"l AS (INSERT INTO {LINK} (task_id, tag_id) SELECT w.id, g.id FROM w, g) "
            f"SELECT {columns}, "
            'ARRAY(SELECT g.name FROM g ORDER BY g.key COLLATE "C", g.name COLLATE "C"), NULL FROM w'
        )
        return fetch_one(sql, [*row.values(), *upsert_params])
    task = fetch_one(f"{insert} RETURNING {d.task_columns(TASK)}", row.values())
    tags = tags_upsert(user_id=user_id, names=tag_names, keys=tag_keys, link_task_id=task[0])
    names = sorted((key, name) for _, name, key in tags)
    return (*task[:TAGS], orjson.dumps([name for _, name in names]).decode(), task[REMINDERS])


def _tags_upsert_sql(user_id: str, names: Sequence[str], keys: Sequence[str]) -> tuple[str, list[Any]]:
    values = ", ".join(["(%s, %s, %s)"] * len(names))
    params: list[Any] = []
    for name, key in zip(names, keys, strict=True):
        params += [user_id, name, key]
    sql = (
        f"INSERT INTO {TAG} (user_id, name, key) VALUES {values} "  # noqa: S608
        "ON CONFLICT (user_id, key) DO UPDATE SET key = EXCLUDED.key RETURNING id, name, key"
    )
    return sql, params


def tags_upsert(
    *, user_id: str, names: Sequence[str], keys: Sequence[str], link_task_id: int | None
) -> list[tuple]:
    """The user's tags of these names as (id, name, key), created where missing; with
    `link_task_id`, also put them all on that (new, untagged) task. One statement on PostgreSQL
    (a data-modifying WITH), two on SQLite.

    An existing tag keeps the spelling the user first gave it. ON CONFLICT makes it safe when two
    requests of the same user create the same tag at once.
    """
    upsert, params = _tags_upsert_sql(user_id, names, keys)
    if link_task_id is None:
        return fetch_all(upsert, params)
    if dialect().vendor == "postgresql":
        sql = (
            f"WITH tag AS ({upsert}), "  # noqa: S608
            f"link AS (INSERT INTO {LINK} (task_id, tag_id) SELECT %s, id FROM tag) "
            "SELECT id, name, key FROM tag"
        )
        return fetch_all(sql, [*params, link_task_id])
    rows = fetch_all(upsert, params)
    links_insert(task_id=link_task_id, tag_ids=[row[0] for row in rows])
    return rows


def links_insert(*, task_id: int, tag_ids: Iterable[int]) -> None:
    tag_ids = list(tag_ids)
    if tag_ids:
        values = ", ".join(["(%s, %s)"] * len(tag_ids))
        params = [value for tag_id in tag_ids for value in (task_id, tag_id)]
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {LINK} (task_id, tag_id) VALUES {values}", params)  # noqa: S608


def links_delete(*, task_id: int, tag_ids: Iterable[int]) -> None:
    tag_ids = list(tag_ids)
    if tag_ids:
        placeholders = ", ".join(["%s"] * len(tag_ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {LINK} WHERE task_id = %s AND tag_id IN ({placeholders})",  # noqa: S608
                [task_id, *tag_ids],
            )


def task_tag_ids(*, task_id: int) -> dict[str, int]:
    """The task's tags as key -> id."""
    rows = fetch_all(
        f"SELECT g.key, g.id FROM {LINK} l JOIN {TAG} g ON g.id = l.tag_id WHERE l.task_id = %s",  # noqa: S608
        [task_id],
    )
    return dict(rows)


# --- Idempotency keys -----------------------------------------------------------------------------
def idempotency_store(
    *,
    user_id: str,
    key: str,
    fingerprint: str,
    status_code: int,
    body: str,
    location: str,
    etag: str,
    now: datetime,
    expired_before: datetime,
) -> None:
    """Insert the key's record, or replace an expired one, in one statement whose result is not
    read: while a live record holds the key, the conflict's update sets `fingerprint` to NULL, which
    its NOT NULL constraint refuses, so the statement fails (IntegrityError) and nothing changes."""
    from tasks.models import IdempotencyKey

    d = dialect()
    table = IdempotencyKey._meta.db_table
    body_param = "%s::jsonb" if d.vendor == "postgresql" else "%s"
    columns = "user_id, key, fingerprint, status_code, response_body, location, etag, created_at"
    params = [user_id, key, fingerprint, status_code, body, location, etag, d.datetime_param(now)]
    params.append(d.datetime_param(expired_before))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, {body_param}, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT (user_id, key) DO UPDATE SET "
            f"fingerprint = CASE WHEN {table}.created_at < %s THEN EXCLUDED.fingerprint ELSE NULL END, "
            "status_code = EXCLUDED.status_code, response_body = EXCLUDED.response_body, "
            "location = EXCLUDED.location, etag = EXCLUDED.etag, created_at = EXCLUDED.created_at",
            params,
        )


# --- Reminders ------------------------------------------------------------------------------------
def reminders_replace(
    *, task_id: int, user_id: str, rows: Sequence[reminder_rules.Row], had_any: bool
) -> list[reminder_rules.Row]:
    """Make the task's reminders exactly `rows`, in order; a row with an id keeps it (the worker
    that claimed it finds it again). The caller holds the task's row lock, in a transaction.

    The old rows are deleted first, returning their current state: a reminder the worker marked
    `sent` after the caller read it stays sent. Returns the rows as stored, ids included.
    """
    d = dialect()
    rows = [reminder_rules.Row(**vars(row)) for row in rows]
    if had_any:
        deleted = fetch_all(
            f"DELETE FROM {REMINDER} WHERE task_id = %s RETURNING id, state, sent_at, claimed_until",  # noqa: S608
            [task_id],
        )
        current = {row_id: (state, sent_at, claimed) for row_id, state, sent_at, claimed in deleted}
        for row in rows:
            state = current.get(row.id)
            if state is not None and state[0] == reminder_rules.SENT:
                row.state, row.sent_at = reminder_rules.SENT, d.to_datetime(state[1])
    if not rows:
        return []
    id_value = "DEFAULT" if d.vendor == "postgresql" else "NULL"
    values, params = [], []
    for position, row in enumerate(rows):
        if row.id is None:
            values.append(f"({id_value}, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
        else:
            values.append("(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
            params.append(row.id)
        params += [
            task_id,
            user_id,
            position,
            row.before,
            d.datetime_param(row.at),
            d.datetime_param(row.fire_at),
            row.state,
            d.datetime_param(row.sent_at),
            d.datetime_param(row.claimed_until),
        ]
    inserted = fetch_all(
        f'INSERT INTO {REMINDER} (id, task_id, user_id, position, "before", "at", fire_at, state, sent_at, '  # noqa: S608
        f"claimed_until) VALUES {', '.join(values)} RETURNING id, position",
        params,
    )
    for row_id, position in inserted:
        rows[position].id = row_id
    return rows


def reminders_update(*, rows: Sequence[reminder_rules.Row]) -> None:
    """Write the fire_at, state and claim of these stored reminders (the task's list itself is
    unchanged), in one statement. A reminder the worker marked `sent` meanwhile keeps its state."""
    d = dialect()
    if not rows:
        return
    stamp = "%s::timestamptz" if d.vendor == "postgresql" else "%s"
    ids = [row.id for row in rows]
    assignments, params = [], []
    for column, value_sql in (("fire_at", stamp), ("state", "%s"), ("claimed_until", stamp)):
        cases = " ".join(f"WHEN %s THEN {value_sql}" for _ in rows)
        expression = f"CASE id {cases} END"
        if column != "fire_at":
            expression = f"CASE WHEN state = %s THEN {column} ELSE {expression} END"
            params.append(reminder_rules.SENT)
        assignments.append(f"{column} = {expression}")
        for row in rows:
            value = getattr(row, column)
            params += [row.id, value if column == "state" else d.datetime_param(value)]
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {REMINDER} SET {', '.join(assignments)} WHERE id IN ({placeholders})",  # noqa: S608
            [*params, *ids],
        )


# --- Change feed (docs/SYNC.md) -------------------------------------------------------------------
# Both halves of the feed are read in (change_seq, id) order from their (user_id, change_seq, id)
# indexes: one range scan each, starting at the token's position.
CHANGE_KIND_UPSERT, CHANGE_KIND_DELETE = 0, 1


def change_state(*, user_id: str) -> tuple[int, int]:
    """The user's latest committed change number and tombstones_purged_through: one row of
    tasks_taskcount, no task read. (0, 0) for a user who never had a task."""
    row = fetch_one(
        f"SELECT change_seq, tombstones_purged_through FROM {COUNT} WHERE user_id = %s",  # noqa: S608
        [user_id],
    )
    return (row[0], row[1]) if row else (0, 0)


def changes_page(*, user_id: str, seq: int, last_id: int, floor: int, limit: int) -> tuple[int, list[tuple]]:
    """The user's changes after position (seq, last_id), at most `limit`, in one statement: tasks
    whose change number is past it, as upserts, and tombstones past it and past `floor` (a
    snapshot's start: tombstones from before it are of tasks the client never had), as deletes.
    Returns tombstones_purged_through, read in the same snapshot as the page, and the rows:
    (kind, change_seq, *task columns); a delete's task columns are NULL but its id."""
    d = dialect()
    columns = ", ".join(f"t.{column}" for column in COLUMNS)
    # Typed NULLs: PostgreSQL types a bare NULL in a derived table as text, which UNION then refuses.
    fields = {field.column: field for field in Task._meta.concrete_fields}
    nulls = ", ".join(
        f"CAST(NULL AS {fields[column].db_type(connection)}) AS {column}" for column in COLUMNS[1:]
    )
    page = (
        f"SELECT * FROM (SELECT {CHANGE_KIND_UPSERT} AS kind, t.change_seq AS change_seq, {columns} "  # noqa: S608
        f"FROM {TASK} t WHERE t.user_id = %s AND (t.change_seq, t.id) > (%s, %s) "
        "ORDER BY t.change_seq, t.id LIMIT %s) upserts "
        f"UNION ALL SELECT * FROM (SELECT {CHANGE_KIND_DELETE}, b.change_seq, b.task_id, {nulls} "
        f"FROM {TOMBSTONE} b WHERE b.user_id = %s AND (b.change_seq, b.task_id) > (%s, %s) "
        "AND b.change_seq > %s ORDER BY b.change_seq, b.task_id LIMIT %s) deletes"
    )
    sql = (
        f"SELECT p.purged, c.kind, c.change_seq, {d.task_columns('c')} "  # noqa: S608
        f"FROM (SELECT COALESCE((SELECT tombstones_purged_through FROM {COUNT} WHERE user_id = %s), 0) "
        f"AS purged) p LEFT JOIN (SELECT * FROM ({page}) u ORDER BY change_seq, id LIMIT %s) c ON TRUE "
        "ORDER BY c.change_seq, c.id"
    )
    params = [user_id, user_id, seq, last_id, limit, user_id, seq, last_id, floor, limit, limit]
    rows = fetch_all(sql, params)
    purged = rows[0][0]
    return purged, [row[1:] for row in rows if row[1] is not None]


def task_count_upsert_webhooks(*, user_id: str, enabled: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {COUNT} (user_id, total, completed, webhooks_active) VALUES (%s, 0, 0, %s) "  # noqa: S608
            "ON CONFLICT (user_id) DO UPDATE SET webhooks_active = EXCLUDED.webhooks_active",
            [user_id, enabled],
        )


def tombstones_purge_batch(*, cutoff: datetime, batch: int) -> int:
    """Delete up to `batch` tombstones older than `cutoff` and raise their users'
    tombstones_purged_through to the newest change number deleted, in the caller's transaction."""
    d = dialect()
    if d.vendor == "postgresql":
        row = fetch_one(
            f"WITH gone AS (DELETE FROM {TOMBSTONE} WHERE id IN ("  # noqa: S608
            f"SELECT id FROM {TOMBSTONE} WHERE deleted_at < %s ORDER BY deleted_at LIMIT %s "
            "FOR UPDATE SKIP LOCKED) RETURNING user_id, change_seq), "
            "top AS (SELECT user_id, max(change_seq) AS seq FROM gone GROUP BY user_id), "
            f"raised AS (UPDATE {COUNT} c SET tombstones_purged_through = "
            "GREATEST(c.tombstones_purged_through, top.seq) FROM top WHERE c.user_id = top.user_id) "
            "SELECT count(*) FROM gone",
            [cutoff, batch],
        )
        return row[0]
    rows = fetch_all(
        f"SELECT id, user_id, change_seq FROM {TOMBSTONE} WHERE deleted_at < %s "  # noqa: S608
        "ORDER BY deleted_at LIMIT %s",
        [d.datetime_param(cutoff), batch],
    )
    if not rows:
        return 0
    top: dict[str, int] = {}
    for _, user_id, seq in rows:
        top[user_id] = max(seq, top.get(user_id, 0))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {COUNT} SET tombstones_purged_through = MAX(tombstones_purged_through, %s) "  # noqa: S608
            "WHERE user_id = %s",
            [(seq, user_id) for user_id, seq in top.items()],
        )
        ids = [row[0] for row in rows]
        cursor.execute(f"DELETE FROM {TOMBSTONE} WHERE id IN ({', '.join(['%s'] * len(ids))})", ids)  # noqa: S608
    return len(rows)
