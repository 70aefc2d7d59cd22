"""The floor: the least a Python server must do to answer the same requests, with no framework.

A bare WSGI app (psycopg, orjson, PyJWT) that checks the token exactly as the project does (HS256
with BETTER_AUTH_SECRET, the same claims and leeway, then the user row by its id), runs the same SQL
as the project for the list and detail routes, and writes the same JSON and headers. It is run by
the same gunicorn with the same workers against the same database, so the project's throughput as
a share of the floor's is what Django, DRF and our code cost on top of the unavoidable work.

Routes: GET /api/{user_id}/tasks/ (the default page, or `status`, `sort=due_date|-created`, one
`tag`, `limit`, and a `cursor` for `-created`) and GET /api/{user_id}/tasks/{id}/.
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
ROUTE = re.compile(r"/api/(?P<user>[A-Za-z0-9._~-]{1,128})/tasks/?(?:(?P<pk>[0-9]{1,18})/?)?")
PRIORITY = {0: "none", 1: "low", 2: "medium", 3: "high"}

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


def authenticate(environ, url_user: str) -> str:
    header = environ.get("HTTP_AUTHORIZATION", "").split()
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
    row = connection().execute(USER_SQL, [sub]).fetchone()
    if row is None or not row[6]:
        raise Problem("403 Forbidden", "account_disabled")
    if url_user != sub:
        raise Problem("403 Forbidden", "user_mismatch")
    return sub


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def task_dicts(rows, tags_by_task) -> list[dict]:
    return [
        {
            "id": row[0],
            "user_id": row[1],
            "title": row[2],
            "description": row[3],
            "completed": row[4],
            "completed_at": iso(row[5]),
            "priority": PRIORITY[row[6]],
            "due_date": iso(row[7]),
            "tags": sorted(tags_by_task.get(row[0], ()), key=lambda name: (name.casefold(), name)),
            "version": row[8],
            "created_at": iso(row[9]),
            "updated_at": iso(row[10]),
        }
        for row in rows
    ]


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


def task_list(environ, user: str):
    query = parse_qs(environ.get("QUERY_STRING", ""))
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
    conn = connection()
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
    headers = [("Content-Type", "application/json"), ("X-Total-Count", str(total))]
    if len(rows) > limit:
        rows = rows[:limit]
        if sort == "-created":
            cursor = sign_cursor({"u": user, "s": sort, "v": rows[-1][11].isoformat(), "i": rows[-1][0]})
            next_query = {**{key: values[0] for key, values in query.items()}, "cursor": cursor}
            host = environ.get("HTTP_HOST", "localhost")
            url = f"http://{host}{environ['PATH_INFO']}?{urlencode(next_query)}"
            headers.append(("Link", f'<{url}>; rel="next"'))
    body = orjson.dumps(task_dicts(rows, tags_for(conn, user, [row[0] for row in rows])))
    return "200 OK", headers, body


def task_detail(user: str, pk: int):
    conn = connection()
    row = conn.execute(DETAIL_SQL, [user, pk]).fetchone()
    if row is None:
        raise Problem("404 Not Found", "not_found")
    body = orjson.dumps(task_dicts([row], tags_for(conn, user, [row[0]]))[0])
    return "200 OK", [("Content-Type", "application/json"), ("ETag", f'"{row[8]}"')], body


def app(environ, start_response):
    match = ROUTE.fullmatch(environ.get("PATH_INFO", ""))
    try:
        if match is None or environ["REQUEST_METHOD"] != "GET":
            raise Problem("404 Not Found", "not_found")
        user = authenticate(environ, match["user"])
        if match["pk"]:
            status, headers, body = task_detail(user, int(match["pk"]))
        else:
            status, headers, body = task_list(environ, user)
    except Problem as problem:
        status = problem.status
        body = orjson.dumps({"status": int(status[:3]), "code": problem.code})
        headers = [("Content-Type", "application/problem+json")]
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]
