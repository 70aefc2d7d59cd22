"""The bare floor: the least a Python server must do to answer the same requests, with no framework.

A bare WSGI app (psycopg, orjson, PyJWT) that checks the token exactly as the project does (HS256
with BETTER_AUTH_SECRET, the same claims and leeway, then the user row by its id), runs the same SQL
as the project for the list and detail routes, and writes the same JSON and headers. It is run by
the same gunicorn with the same workers against the same database, so the project's throughput as
a share of the floor's is what Django, DRF and our code cost on top of the unavoidable work.

Routes: GET /api/{user_id}/tasks/ (the default page, or `status`, `sort=due_date|-created`, one
`tag`, `limit`, and a `cursor` for `-created`), GET /api/{user_id}/tasks/{id}/, and the writes:
POST /api/{user_id}/tasks/, PATCH /api/{user_id}/tasks/{id}/ (If-Match), PATCH .../{id}/complete/.

Each write is one statement (one transaction) with RETURNING, after the user row of the token:
- create: the task, its tags (INSERT ... ON CONFLICT, the project's statement), the task-tag links
  and the Idempotency-Key row, in one statement with data-modifying CTEs. What it skips: a repeated
  key is not replayed nor checked against the stored fingerprint (ON CONFLICT DO NOTHING), the
  stored response is the row as JSON rather than the API body, and validation is reduced to types,
  lengths and required fields (no control-character or RFC 3339 wording rules);
- toggle (PATCH .../complete/, no body) and set ({"completed": bool});
- update (PATCH with If-Match, 412 on a mismatch): title, description, priority, due_date and
  completed; `version` and `updated_at` move only when a value changes, as in the project. Tags
  in an update are not implemented (400): the benchmark never sends them.

The request functions take any object whose `execute(sql, params)` returns a psycopg cursor: a
psycopg connection here, a cursor of Django's connection in the DRF floor (bench/drf_floor.py),
which serves the same routes through DRF with this module's SQL.

Run: gunicorn -c gunicorn.conf.py bench.floor:app
"""

import base64
import hashlib
import hmac
import os
import re
import threading
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

import jwt
import orjson
import psycopg

SECRET = os.environ["BETTER_AUTH_SECRET"].encode()
LEEWAY = int(os.environ.get("JWT_LEEWAY_SECONDS", "30"))
DSN = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
USER_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")
ROUTE = re.compile(
    r"/api/(?P<user>[A-Za-z0-9._~-]{1,128})/tasks/?(?:(?P<pk>[0-9]{1,18})/?(?:(?P<action>complete)/?)?)?"
)
PRIORITY = {0: "none", 1: "low", 2: "medium", 3: "high"}
PRIORITY_BY_NAME = {name: rank for rank, name in PRIORITY.items()}
MAX_BODY = 1024 * 1024

# The statements the project sends (copied from its query log), with the user and ids as parameters.
TASK_COLUMNS = (
    '"tasks_task"."id", "tasks_task"."user_id", "tasks_task"."title", "tasks_task"."description", '
    '"tasks_task"."completed", "tasks_task"."completed_at", "tasks_task"."priority", '
    '"tasks_task"."due_date", "tasks_task"."version", "tasks_task"."created_at", "tasks_task"."updated_at"'
)
USER_SQL = (
    'SELECT "accounts_user"."password", "accounts_user"."last_login", "accounts_user"."is_superuser", '
    '"accounts_user"."id", "accounts_user"."email", "accounts_user"."name", "accounts_user"."is_active", '
    '"accounts_user"."is_staff", "accounts_user"."date_joined" FROM "accounts_user" '
    'WHERE "accounts_user"."id" = %s ORDER BY "accounts_user"."id" ASC LIMIT 1'
)
TAG_JOIN = (
    ' INNER JOIN "tasks_task_tags" ON ("tasks_task"."id" = "tasks_task_tags"."task_id")'
    ' INNER JOIN "tasks_tag" ON ("tasks_task_tags"."tag_id" = "tasks_tag"."id")'
)
SORTS = {
    "-created": ('"tasks_task"."created_at"', 'ORDER BY 12 DESC, "tasks_task"."id" DESC'),
    "due_date": ('"tasks_task"."due_date"', 'ORDER BY 12 ASC NULLS LAST, "tasks_task"."id" ASC'),
}
DETAIL_SQL = (
    f'SELECT {TASK_COLUMNS} FROM "tasks_task" WHERE ("tasks_task"."user_id" = %s AND "tasks_task"."id" = %s) '
    'ORDER BY "tasks_task"."created_at" DESC, "tasks_task"."id" DESC LIMIT 1'
)
TAGS_SQL = (
    'SELECT "tasks_task_tags"."task_id", "tasks_tag"."name" FROM "tasks_task_tags" INNER JOIN "tasks_tag" '
    'ON ("tasks_task_tags"."tag_id" = "tasks_tag"."id") '
    'WHERE ("tasks_task_tags"."task_id" = ANY(%s) AND "tasks_tag"."user_id" = %s)'
)
COUNTS_SQL = (
    'SELECT "tasks_taskcount"."total", "tasks_taskcount"."completed" FROM "tasks_taskcount" '
    'WHERE "tasks_taskcount"."user_id" = %s ORDER BY "tasks_taskcount"."user_id" ASC LIMIT 1'
)

# The writes: one statement each, the task row and its tag names returned (columns as TASK_COLUMNS,
# then the names). The tasks_taskcount triggers of migration 0002 run as for any write.
RETURNING = (
    "id, user_id, title, description, completed, completed_at, priority, due_date, version, "
    "created_at, updated_at"
)
WRITTEN_TAGS = (
    "ARRAY(SELECT tg.name FROM tasks_task_tags tt JOIN tasks_tag tg ON tt.tag_id = tg.id "
    "WHERE tt.task_id = w.id AND tg.user_id = w.user_id)"
)
CREATE_SQL = (
    "WITH w AS ("
    "INSERT INTO tasks_task (user_id, title, description, completed, completed_at, priority, due_date, "
    "version, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 1, %s, %s) "
    f"RETURNING {RETURNING}), "
    # The project's tag statement (tasks.services.tags_get_or_create), fed by two arrays.
    "g AS (INSERT INTO tasks_tag (user_id, name, key) SELECT %s, n, k FROM unnest(%s::text[], %s::text[]) "
    "AS x(n, k) ON CONFLICT (user_id, key) DO UPDATE SET key = EXCLUDED.key RETURNING id, name), "
    "l AS (INSERT INTO tasks_task_tags (task_id, tag_id) SELECT w.id, g.id FROM w, g), "
    "k AS (INSERT INTO tasks_idempotencykey (user_id, key, fingerprint, status_code, response_body, "
    "location, etag, created_at) SELECT w.user_id, %s, %s, 201, to_jsonb(w), "
    "%s::text || w.id::text, '\"1\"', w.created_at FROM w "
    "WHERE %s::text IS NOT NULL ON CONFLICT (user_id, key) DO NOTHING) "
    "SELECT w.*, ARRAY(SELECT name FROM g) FROM w"
)
TOGGLE_SQL = (
    "WITH w AS (UPDATE tasks_task SET completed = NOT completed, "
    "completed_at = CASE WHEN completed THEN NULL ELSE %s END, version = version + 1, updated_at = %s "
    f"WHERE user_id = %s AND id = %s{{if_match}} RETURNING {RETURNING}) SELECT w.*, {WRITTEN_TAGS} FROM w"
)
EXISTS_SQL = "SELECT 1 FROM tasks_task WHERE user_id = %s AND id = %s"

_local = threading.local()


class Problem(Exception):
    def __init__(self, status: str, code: str):
        self.status, self.code = status, code


def connection() -> psycopg.Connection:
    """One autocommit connection per thread, kept open (as Django's CONN_MAX_AGE does)."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DSN, autocommit=True)
    return conn


# --- Authentication ------------------------------------------------------------------------------
def verify_token(authorization: str) -> str:
    """The `sub` of a valid access token in an `Authorization: Bearer` header value."""
    header = authorization.split()
    if len(header) != 2 or header[0].lower() != "bearer":
        raise Problem("401 Unauthorized", "not_authenticated")
    try:
        claims = jwt.decode(
            header[1], SECRET, algorithms=["HS256"], leeway=LEEWAY, options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError:
        raise Problem("401 Unauthorized", "invalid_token") from None
    sub = claims.get("sub")
    if (
        not isinstance(sub, str)
        or not USER_ID.fullmatch(sub)
        or claims.get("token_type", "access") != "access"
    ):
        raise Problem("401 Unauthorized", "invalid_token")
    return sub


def active_user(conn, sub: str) -> tuple:
    """The user row of the token (the project's statement); 403 when missing or disabled."""
    row = conn.execute(USER_SQL, [sub]).fetchone()
    if row is None or not row[6]:
        raise Problem("403 Forbidden", "account_disabled")
    return row


def authenticate(conn, environ, url_user: str) -> str:
    sub = verify_token(environ.get("HTTP_AUTHORIZATION", ""))
    active_user(conn, sub)
    if url_user != sub:
        raise Problem("403 Forbidden", "user_mismatch")
    return sub


# --- Reads ---------------------------------------------------------------------------------------
def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def tag_order(names) -> list[str]:
    return sorted(names, key=lambda name: (name.casefold(), name))


def task_dict(row, tags) -> dict:
    return {
        "id": row[0],
        "user_id": row[1],
        "title": row[2],
        "description": row[3],
        "completed": row[4],
        "completed_at": iso(row[5]),
        "priority": PRIORITY[row[6]],
        "due_date": iso(row[7]),
        "tags": tag_order(tags),
        "version": row[8],
        "created_at": iso(row[9]),
        "updated_at": iso(row[10]),
    }


def task_dicts(rows, tags_by_task) -> list[dict]:
    return [task_dict(row, tags_by_task.get(row[0], ())) for row in rows]


def tags_for(conn, user: str, task_ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {}
    if task_ids:
        for task_id, name in conn.execute(TAGS_SQL, [task_ids, user]):
            tags.setdefault(task_id, []).append(name)
    return tags


def sign_cursor(payload: dict) -> str:
    body = base64.urlsafe_b64encode(orjson.dumps(payload)).decode()
    mac = hmac.new(SECRET, body.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{body}.{mac}"


def read_cursor(user: str, sort: str, cursor: str) -> tuple[datetime, int]:
    body, _, mac = cursor.rpartition(".")
    if not hmac.compare_digest(mac, hmac.new(SECRET, body.encode(), hashlib.sha256).hexdigest()[:32]):
        raise Problem("400 Bad Request", "validation_error")
    payload = orjson.loads(base64.urlsafe_b64decode(body))
    if payload["u"] != user or payload["s"] != sort:
        raise Problem("400 Bad Request", "validation_error")
    return datetime.fromisoformat(payload["v"]), payload["i"]


def task_list(conn, user: str, query: dict[str, list[str]], base_url: str) -> tuple[list, list[dict]]:
    """Headers and body of a page; `base_url` is the request's absolute URL without its query."""
    sort = query.get("sort", ["-created"])[0]
    if sort not in SORTS:
        raise Problem("400 Bad Request", "validation_error")
    limit = int(query.get("limit", ["100"])[0])
    where, params, join = ['"tasks_task"."user_id" = %s'], [user], ""
    status = query.get("status", ["all"])[0]
    if status in ("pending", "completed"):
        where.append('NOT "tasks_task"."completed"' if status == "pending" else '"tasks_task"."completed"')
    if "tag" in query:
        join = TAG_JOIN
        where += ['"tasks_tag"."key" = %s', '"tasks_tag"."user_id" = %s']
        params += [query["tag"][0].strip().casefold(), user]
    condition = " AND ".join(where)
    if join:  # as the project: a real count when a filter other than status applies
        count_sql = f'SELECT COUNT(*) AS "__count" FROM "tasks_task"{join} WHERE ({condition})'
        total = conn.execute(count_sql, params).fetchone()[0]
    else:
        total, completed = conn.execute(COUNTS_SQL, [user]).fetchone() or (0, 0)
        total = {"all": total, "pending": total - completed, "completed": completed}.get(status, total)
    sort_column, order = SORTS[sort]
    page_where, page_params = condition, list(params)
    if "cursor" in query:
        value, last_id = read_cursor(user, sort, query["cursor"][0])
        page_where += ' AND ("tasks_task"."created_at", "tasks_task"."id") < (%s, %s)'
        page_params += [value, last_id]
    rows = conn.execute(
        f'SELECT {TASK_COLUMNS}, {sort_column} AS "sort_key" FROM "tasks_task"{join} '
        f"WHERE ({page_where}) {order} LIMIT {limit + 1}",
        page_params,
    ).fetchall()
    headers = [("X-Total-Count", str(total))]
    if len(rows) > limit:
        rows = rows[:limit]
        if sort == "-created":
            cursor = sign_cursor({"u": user, "s": sort, "v": rows[-1][11].isoformat(), "i": rows[-1][0]})
            next_query = {**{key: values[0] for key, values in query.items()}, "cursor": cursor}
            headers.append(("Link", f'<{base_url}?{urlencode(next_query)}>; rel="next"'))
    return headers, task_dicts(rows, tags_for(conn, user, [row[0] for row in rows]))


def task_detail(conn, user: str, pk: int) -> tuple[list, dict]:
    row = conn.execute(DETAIL_SQL, [user, pk]).fetchone()
    if row is None:
        raise Problem("404 Not Found", "not_found")
    return [("ETag", f'"{row[8]}"')], task_dicts([row], tags_for(conn, user, [row[0]]))[0]


# --- Writes --------------------------------------------------------------------------------------
def _text(data: dict, name: str, maximum: int, *, trim: bool, blank: bool) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise Problem("400 Bad Request", "validation_error")
    value = value.strip() if trim else value
    if len(value) > maximum or (not blank and not value):
        raise Problem("400 Bad Request", "validation_error")
    return value


def _due_date(value) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise Problem("400 Bad Request", "validation_error")
    return parsed.astimezone(UTC)


def task_fields(data, *, partial: bool) -> dict:
    """The writable fields of a body, checked for type, length and presence only."""
    if not isinstance(data, dict):
        raise Problem("400 Bad Request", "validation_error")
    fields: dict = {}
    if "title" in data or not partial:
        if "title" not in data:
            raise Problem("400 Bad Request", "validation_error")
        fields["title"] = _text(data, "title", 200, trim=True, blank=False)
    if "description" in data:
        fields["description"] = _text(data, "description", 1000, trim=False, blank=True)
    if "completed" in data:
        if not isinstance(data["completed"], bool):
            raise Problem("400 Bad Request", "validation_error")
        fields["completed"] = data["completed"]
    if "priority" in data:
        if data["priority"] not in PRIORITY_BY_NAME:
            raise Problem("400 Bad Request", "validation_error")
        fields["priority"] = PRIORITY_BY_NAME[data["priority"]]
    if "due_date" in data:
        fields["due_date"] = _due_date(data["due_date"])
    if "tags" in data:
        tags = data["tags"]
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise Problem("400 Bad Request", "validation_error")
        merged: dict[str, str] = {}
        for tag in tags:
            name = tag.strip()
            if not 1 <= len(name) <= 50:
                raise Problem("400 Bad Request", "validation_error")
            merged.setdefault(name.casefold(), name)
        if len(merged) > 20:
            raise Problem("400 Bad Request", "validation_error")
        fields["tags"] = merged
    return fields


def if_match_versions(if_match: str | None) -> list[int] | None:
    """The versions an If-Match header accepts; None for any (no header, or `*`)."""
    if if_match is None:
        return None
    candidates = [candidate.strip() for candidate in if_match.split(",")]
    if "*" in candidates:
        return None
    return [int(c[1:-1]) for c in candidates if len(c) > 2 and c[0] == c[-1] == '"' and c[1:-1].isdigit()]


def _written(conn, user: str, pk: int, row) -> tuple[list, dict]:
    if row is None:  # nothing updated: no such task (404), or its version did not match (412)
        if conn.execute(EXISTS_SQL, [user, pk]).fetchone() is None:
            raise Problem("404 Not Found", "not_found")
        raise Problem("412 Precondition Failed", "precondition_failed")
    return [("ETag", f'"{row[8]}"')], task_dict(row, row[11])


def task_create(conn, user: str, data, key: str | None, location_prefix: str) -> tuple[list, dict]:
    """POST: `location_prefix` is the absolute URL of the task collection (the Location's base)."""
    fields = task_fields(data, partial=False)
    now = datetime.now(UTC)
    completed = fields.get("completed", False)
    tags = fields.get("tags", {})
    fingerprint = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()
    row = conn.execute(
        CREATE_SQL,
        [
            user,
            fields["title"],
            fields.get("description", ""),
            completed,
            now if completed else None,
            fields.get("priority", 0),
            fields.get("due_date"),
            now,
            now,
            user,
            list(tags.values()),
            list(tags),
            key,
            fingerprint,
            location_prefix,
            key,
        ],
    ).fetchone()
    headers = [("Location", f"{location_prefix}{row[0]}"), ("ETag", '"1"')]
    return headers, task_dict(row, row[11])


def task_complete(conn, user: str, pk: int, data, if_match: str | None) -> tuple[list, dict]:
    """PATCH .../complete/: no body (or no `completed`) toggles; {"completed": b} sets."""
    if isinstance(data, dict) and "completed" in data:
        fields = task_fields({"completed": data["completed"]}, partial=True)
        return task_update(conn, user, pk, fields, if_match, parsed=True)
    versions = if_match_versions(if_match)
    now = datetime.now(UTC)
    params = [now, now, user, pk]
    if versions is not None:
        params.append(versions)
    sql = TOGGLE_SQL.replace("{if_match}", "" if versions is None else " AND version = ANY(%s)")
    return _written(conn, user, pk, conn.execute(sql, params).fetchone())


def task_update(conn, user: str, pk: int, data, if_match: str | None, *, parsed=False) -> tuple[list, dict]:
    """PATCH .../{id}/ with the fields given; `version` and `updated_at` move only on a change."""
    fields = data if parsed else task_fields(data, partial=True)
    if "tags" in fields:
        raise Problem("400 Bad Request", "not_implemented_in_floor")
    now = datetime.now(UTC)
    sets, changed, params, change_params = [], [], [], []
    for name in ("title", "description", "priority", "due_date"):
        if name in fields:
            sets.append(f"{name} = %s")
            params.append(fields[name])
            changed.append(f"{name} IS DISTINCT FROM %s")
            change_params.append(fields[name])
    if "completed" in fields:
        target = fields["completed"]
        sets += ["completed = %s", "completed_at = CASE WHEN completed = %s THEN completed_at ELSE %s END"]
        params += [target, target, now if target else None]
        changed.append("completed IS DISTINCT FROM %s")
        change_params.append(target)
    condition = " OR ".join(changed) or "FALSE"
    sets += [
        f"version = version + CASE WHEN {condition} THEN 1 ELSE 0 END",
        f"updated_at = CASE WHEN {condition} THEN %s ELSE updated_at END",
    ]
    params += [*change_params, *change_params, now, user, pk]
    versions = if_match_versions(if_match)
    where = "user_id = %s AND id = %s"
    if versions is not None:
        where += " AND version = ANY(%s)"
        params.append(versions)
    sql = (
        f"WITH w AS (UPDATE tasks_task SET {', '.join(sets)} WHERE {where} RETURNING {RETURNING}) "
        f"SELECT w.*, {WRITTEN_TAGS} FROM w"
    )
    return _written(conn, user, pk, conn.execute(sql, params).fetchone())


# --- WSGI ----------------------------------------------------------------------------------------
def read_json(environ):
    length = environ.get("CONTENT_LENGTH") or "0"
    size = int(length) if length.isdigit() else 0
    if size > MAX_BODY:
        raise Problem("413 Content Too Large", "payload_too_large")
    raw = environ["wsgi.input"].read(size) if size else b""
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Problem("400 Bad Request", "malformed_json") from None


def app(environ, start_response):
    match = ROUTE.fullmatch(environ.get("PATH_INFO", ""))
    method = environ["REQUEST_METHOD"]
    try:
        if match is None:
            raise Problem("404 Not Found", "not_found")
        pk, action = match["pk"], match["action"]
        allowed = ("PATCH",) if action else ("GET", "PATCH") if pk else ("GET", "POST")
        if method not in allowed:
            raise Problem("405 Method Not Allowed", "method_not_allowed")
        conn = connection()
        user = authenticate(conn, environ, match["user"])
        host = environ.get("HTTP_HOST", "localhost")
        status = "200 OK"
        if method == "GET" and pk:
            headers, data = task_detail(conn, user, int(pk))
        elif method == "GET":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            headers, data = task_list(conn, user, query, f"http://{host}{environ['PATH_INFO']}")
        elif method == "POST":
            key = environ.get("HTTP_IDEMPOTENCY_KEY")
            headers, data = task_create(
                conn, user, read_json(environ), key, f"http://{host}/api/{user}/tasks/"
            )
            status = "201 Created"
        elif action:
            if_match = environ.get("HTTP_IF_MATCH")
            headers, data = task_complete(conn, user, int(pk), read_json(environ), if_match)
        else:
            if_match = environ.get("HTTP_IF_MATCH")
            headers, data = task_update(conn, user, int(pk), read_json(environ), if_match)
        headers = [("Content-Type", "application/json"), *headers]
        body = orjson.dumps(data)
    except Problem as problem:
        status = problem.status
        body = orjson.dumps({"status": int(status[:3]), "code": problem.code})
        headers = [("Content-Type", "application/problem+json")]
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]
