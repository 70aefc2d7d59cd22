"""`make bench`: build a PostgreSQL database, seed it, serve it with gunicorn, load it with wrk, and
write a Markdown report under bench/results/.

Steps: create the database (dropped first unless --reuse-db), migrate, `seed_demo` for the users the
scenarios drive (200 users x 50 tasks by default, as issue 11 measured), top the tasks table up to
1,000,000 rows (bench/scale.py), collectstatic, mint real tokens, count the queries of each
scenario's request with Django's test client, start three servers under the same gunicorn settings
(the project, the DRF floor of bench/drf_floor.py and the bare floor of bench/floor.py), check that
they answer the same bytes, then run every scenario with wrk against the three in alternation,
sampling the workers' CPU time; then the scale pages (project vs bare floor), the memory of a fresh
project's workers over 200,000 requests, and a py-spy profile.

Run it with the project's virtualenv: `.venv/bin/python bench/run.py --help`.
"""

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(os.path.abspath(__file__)).parent.parent  # not resolve(): a symlinked bench/ runs its own tree
BENCH = ROOT / "bench"
SCENARIOS = BENCH / "scenarios"
sys.path.insert(0, str(ROOT))

# Every scenario runs against the three servers in alternation; reads are the `compare` part,
# writes the `writes` part.
READ_SCENARIOS = ["list", "list_filtered", "detail"]
WRITE_SCENARIOS = ["create", "toggle", "update", "mix"]
PROJECT_SCENARIOS = READ_SCENARIOS + WRITE_SCENARIOS
SCENARIO_TITLES = {
    "list": "list (50 tasks, default page)",
    "list_filtered": "list ?status=pending&sort=due_date&tag=…",
    "detail": "detail",
    "create": "create (with Idempotency-Key)",
    "toggle": "toggle (PATCH …/complete/)",
    "update": "update (PATCH with If-Match)",
    "mix": "mix 35 % list, 35 % detail, 10 % toggle, 10 % update, 10 % create",
}
# The servers: key, label in the report.
SERVERS = {"project": "project", "drf": "DRF floor", "floor": "bare floor"}
# Issue 11's targets, against the DRF floor.
TARGET_THROUGHPUT = 0.85
TARGET_P99 = 1.5
TARGET_MEMORY = 0.10
# The text the scenarios' creates carry (scenarios/writes.lua) and the title of count_queries' create:
# tasks the benchmark made, deleted before each write run so that every user keeps 50 tasks.
CREATED_DESCRIPTION = "Created under load."
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="bench_todo", help="PostgreSQL database to (re)create.")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="Server URL, no database.")
    parser.add_argument("--reuse-db", action="store_true", help="Keep an already seeded database.")
    parser.add_argument("--users", type=int, default=200, help="seed_demo users the scenarios drive.")
    parser.add_argument("--tasks-per-user", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale-tasks", type=int, default=1_000_000, help="Rows in the tasks table.")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument("--duration", type=int, default=5, help="Seconds per wrk run.")
    parser.add_argument(
        "--rounds", type=int, default=3, help="Rounds of project / DRF floor / bare floor (order rotated)."
    )
    parser.add_argument("--scale-rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None, help="GUNICORN_WORKERS (default: conf).")
    parser.add_argument(
        "--profile", default="list,detail", help="Scenarios the profile part samples (comma-separated)."
    )
    parser.add_argument("--gunicorn-threads", type=int, default=None, help="GUNICORN_THREADS.")
    parser.add_argument("--worker-class", default=None, help="GUNICORN_WORKER_CLASS (default: conf).")
    parser.add_argument(
        "--only", default="", help="Comma-separated parts: compare,writes,scale,memory,profile (default all)."
    )
    parser.add_argument(
        "--memory-requests",
        default="10000,200000",
        help="Memory part: read each worker's RSS after these many requests (the first is the baseline).",
    )
    parser.add_argument(
        "--memory-max-seconds",
        type=int,
        default=240,
        help="Memory part: stop loading after this long even if the last count is not reached.",
    )
    parser.add_argument("--out", default=None, help="Report path (default bench/results/<date>.md).")
    parser.add_argument("--no-redis", action="store_true", help="Per-process cache instead of Redis.")
    parser.add_argument(
        "--sweep",
        default="",
        help="Worker models to compare on list and detail, e.g. gthread:2:4,gthread:3:2,sync:4:1 "
        "(class:workers:threads); the report gets a table.",
    )
    parser.add_argument(
        "--write-docs", action="store_true", help="Also rewrite docs/EXPLAIN.md and docs/SERIALIZATION.md."
    )
    return parser.parse_args()


# --- Environment ----------------------------------------------------------------------------------
def redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(args, database_url: str) -> dict[str, str]:
    """Production settings with throwaway secrets; rate limits on but far above the load."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "todo_project.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "BETTER_AUTH_SECRET": secrets.token_urlsafe(40),
            "DATABASE_URL": database_url,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "API_RATE_LIMIT_USER": "1000000/min",
            "ACCESS_TOKEN_LIFETIME_SECONDS": "7200",
            "CACHE_KEY_PREFIX": f"bench-{os.getpid()}",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if not args.no_redis and redis_reachable():
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    else:
        env.pop("REDIS_URL", None)
    for name, value in (
        ("GUNICORN_WORKERS", args.workers),
        ("GUNICORN_THREADS", args.gunicorn_threads),
        ("GUNICORN_WORKER_CLASS", args.worker_class),
    ):
        if value is not None:
            env[name] = str(value)
    return env


def manage(env: dict, *arguments: str, capture: bool = False) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *arguments],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


# --- Database -------------------------------------------------------------------------------------
def prepare_database(args, env: dict) -> dict:
    import psycopg

    from bench.scale import seed_scale

    admin_dsn = args.pg.replace("postgres://", "postgresql://", 1) + "/postgres"
    dsn = env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    timings = {}
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.database]).fetchone()
        if exists and not args.reuse_db:
            conn.execute(f'DROP DATABASE "{args.database}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{args.database}"')
    started = time.perf_counter()
    manage(env, "migrate", "--noinput", "-v0")
    timings["migrate"] = time.perf_counter() - started

    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        seeded = conn.execute(
            "SELECT count(*) FROM tasks_task WHERE user_id NOT LIKE 'scale-%%' AND user_id NOT LIKE 'fill-%%'"
        ).fetchone()[0]
    if not seeded:
        log(f"seed_demo --users {args.users} --tasks-per-user {args.tasks_per_user} --seed {args.seed}")
        manage(
            env,
            "seed_demo",
            "--users",
            str(args.users),
            "--tasks-per-user",
            str(args.tasks_per_user),
            "--seed",
            str(args.seed),
            "-v0",
        )
    timings["seed_demo"] = time.perf_counter() - started
    started = time.perf_counter()
    log(f"topping the tasks table up to {args.scale_tasks:,} rows")
    seed_scale(dsn, total_tasks=args.scale_tasks, log=lambda message: log(message))
    timings["seed_scale"] = time.perf_counter() - started
    return timings


# --- Fixtures: users, tokens, tasks ---------------------------------------------------------------
def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII is a valid Lua string literal


def write_lua_data(path: Path, users: list[dict], versions: dict[int, int]) -> None:
    lines = ["return {", "  users = {"]
    for user in users:
        tasks = ",".join(str(task_id) for task_id in user["tasks"])
        lines.append(
            f"    {{id = {lua_string(user['id'])}, token = {lua_string(user['token'])}, "
            f"tag = {lua_string(user['tag'])}, tasks = {{{tasks}}}}},"
        )
    lines.append("  },")
    lines.append("  versions = {" + ",".join(f"[{k}]={v}" for k, v in versions.items()) + "},")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def token_for(user_id: str) -> str:
    """A token with the claims Better Auth would send for this user (same email and name, so the
    request does not rewrite the user's profile)."""
    from accounts.models import User
    from accounts.tokens import access_token_for

    user = User.objects.get(pk=user_id)
    return str(
        access_token_for(
            user_id=user.pk,
            email=user.email,
            name=user.name,
            created_at=user.date_joined,
            lifetime=timedelta(hours=2),
        )
    )


def build_fixtures(args, workdir: Path) -> dict:
    """Tokens for the seed_demo users and the scale users, and the deep-page cursors."""
    import django

    django.setup()
    from django.db.models import Count

    from accounts.models import User
    from bench import floor
    from tasks import selectors
    from tasks.models import Tag, Task

    def token(user: User) -> str:
        return token_for(user.pk)

    demo_users = list(
        User.objects.exclude(pk__startswith="scale-")
        .exclude(pk__startswith="fill-")
        .exclude(pk__startswith="serial-")
        .filter(tasks__isnull=False)
        .distinct()
        .order_by("pk")[: args.users]
    )
    users, versions = [], {}
    for user in demo_users:
        tasks = list(Task.objects.filter(user=user).order_by("id").values_list("id", "version")[:500])
        versions.update(dict(tasks))
        top_tag = (
            Tag.objects.filter(user=user)
            .annotate(n=Count("tasks"))
            .order_by("-n", "key")
            .values_list("key", flat=True)
            .first()
        )
        users.append(
            {"id": user.pk, "token": token(user), "tag": top_tag or "work", "tasks": [t for t, _ in tasks]}
        )
    write_lua_data(workdir / "users.lua", users, versions)

    scale = {}
    for user_id in ("scale-100", "scale-10k", "scale-100k"):
        user = User.objects.get(pk=user_id)
        count = Task.objects.filter(user=user).count()
        entry = {"id": user_id, "count": count, "token": token(user)}
        ordered = (
            Task.objects.filter(user=user).order_by("-created_at", "-id").values_list("created_at", "id")
        )
        if count > 200:
            depth = count * 9 // 10  # a page 90 % of the way down the list
            created_at, last_id = ordered[depth - 1]
            entry["depth"] = depth
            entry["cursor"] = selectors.encode_cursor(
                user=user, sort="-created", value=created_at, last_id=last_id
            )
            entry["floor_cursor"] = floor.sign_cursor(
                {"u": user_id, "s": "-created", "v": created_at.isoformat(), "i": last_id}
            )
        write_lua_data(
            workdir / f"{user_id}.lua",
            [{"id": user_id, "token": entry["token"], "tag": "work", "tasks": [1]}],
            {},
        )
        scale[user_id] = entry
    return {"users": users, "scale": scale}


# --- Queries per request --------------------------------------------------------------------------
def count_queries(fixtures: dict) -> dict[str, dict]:
    """Each scenario's request once through Django's test client, its SQL statements counted.

    CaptureQueriesContext sees every statement Django sends (BEGIN/COMMIT/SAVEPOINT included); the
    health check of a reused connection (one `SELECT 1` per request with CONN_HEALTH_CHECKS) runs on
    the raw connection and is counted separately.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    user = fixtures["users"][0]
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {user['token']}")
    base = f"/api/{user['id']}/tasks/"
    task_id = user["tasks"][0]
    requests = {
        "list": lambda: client.get(base),
        "list_filtered": lambda: client.get(
            base, {"status": "pending", "sort": "due_date", "tag": user["tag"]}
        ),
        "detail": lambda: client.get(f"{base}{task_id}/"),
        "create": lambda: client.post(
            base,
            {"title": "Query count", "tags": ["bench", user["tag"]], "priority": "low"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"count-{secrets.token_hex(8)}",
        ),
        "toggle": lambda: client.patch(f"{base}{task_id}/complete/"),
        "update": lambda: client.patch(
            f"{base}{task_id}/",
            {"title": "Query count edit"},
            format="json",
            HTTP_IF_MATCH=client.get(f"{base}{task_id}/")["ETag"],
        ),
    }
    counts = {}
    for name, send in requests.items():
        send()  # warm: the first request of a connection does more (its health check, the user row)
        if name == "update":
            etag = client.get(f"{base}{task_id}/")["ETag"]
            send = lambda etag=etag: client.patch(  # noqa: E731
                f"{base}{task_id}/",
                {"title": f"Query count {secrets.token_hex(2)}"},
                format="json",
                HTTP_IF_MATCH=etag,
            )
        with CaptureQueriesContext(connection) as captured:
            response = send()
        statements = [query["sql"] for query in captured.captured_queries]
        counts[name] = {
            "status": response.status_code,
            "queries": len(statements),
            "sql": [
                s for s in statements if s not in ("BEGIN",) and not s.startswith(("SAVEPOINT", "RELEASE"))
            ],
            "transaction": sum(
                1 for s in statements if s == "BEGIN" or s.startswith(("SAVEPOINT", "RELEASE", "COMMIT"))
            ),
        }
    counts["mix"] = {
        "status": 200,
        "queries": round(
            0.35 * counts["list"]["queries"]
            + 0.35 * counts["detail"]["queries"]
            + 0.10 * counts["toggle"]["queries"]
            + 0.10 * counts["update"]["queries"]
            + 0.10 * counts["create"]["queries"],
            2,
        ),
        "sql": [],
        "transaction": 0,
    }
    return counts


# --- Servers --------------------------------------------------------------------------------------
class Server:
    """One gunicorn (gunicorn.conf.py, the environment's workers and threads) on a free port."""

    def __init__(self, name: str, app: str | None, env: dict, workdir: Path, settings: str | None = None):
        self.name, self.port = name, free_port()
        self.log_path = workdir / f"{name}.log"
        command = [str(Path(sys.executable).parent / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py")]
        if app:
            command.append(app)
        # Info level: wait_ready reads gunicorn's "Listening at" line.
        env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "PORT": str(self.port),
            "GUNICORN_LOG_LEVEL": "info",
        }
        if settings:
            env["DJANGO_SETTINGS_MODULE"] = settings
        self.log_file = open(self.log_path, "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        """Until gunicorn says it listens on our port (so that a process that took the port after
        free_port() is never measured instead), then until `path` answers."""
        deadline = time.monotonic() + timeout
        listening = f"Listening at: {self.url} ({self.process.pid})"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}"
                )
            if listening not in self.log_path.read_text():
                time.sleep(0.3)
                continue
            try:
                urllib.request.urlopen(self.url + path, timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers (a 401 from a floor is an answer)
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer within {timeout} s; see {self.log_path}")

    def workers(self) -> list[int]:
        """The pids of the gunicorn workers (the master's children)."""
        pid = self.process.pid
        try:
            return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:  # no CONFIG_PROC_CHILDREN: scan /proc for the master's children
            children = []
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rpartition(")")[2].split()
                except OSError:
                    continue
                if int(fields[1]) == pid:
                    children.append(int(stat.parent.name))
            return children

    def cpu_seconds(self) -> float:
        """User + system CPU time of the workers so far (all their threads)."""
        total = 0
        for pid in self.workers():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / CLK_TCK

    def rss_kb(self) -> dict[int, int]:
        """VmRSS of each worker, in kB."""
        sizes = {}
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
            if match:
                sizes[pid] = int(match.group(1))
        return sizes

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log_file.close()


def start_servers(env: dict, workdir: Path) -> dict[str, Server]:
    """The project, the DRF floor and the bare floor, same gunicorn.conf.py, same environment."""
    return {
        "project": Server("project", None, env, workdir),
        "drf": Server("drf-floor", "bench.drf_floor:application", env, workdir, "bench.drf_floor_settings"),
        "floor": Server("floor", "bench.floor:app", env, workdir),
    }


def call(url: str, token: str, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    """(status, headers (case-insensitive .get), body bytes)."""
    all_headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def fetch(url: str, token: str):
    return call(url, token)


def _json(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None


# Fields of a written task that differ between two servers' writes (ids, clocks).
VOLATILE = ("id", "created_at", "updated_at", "completed_at")


def same_answers(servers: dict[str, Server], fixtures: dict) -> list[str]:
    """The floors must do the project's work: the same JSON bodies, X-Total-Count and task ETag for
    the read requests, and for the writes the same status, body (but ids and clocks) and ETag, each
    write read back through the project. Other headers (Cache-Control, Vary, a list ETag, Link's
    cursor) may differ."""
    user = fixtures["users"][0]
    big = fixtures["scale"]["scale-100k"]
    paths = [  # (who, path, whether it is a task: its ETag is compared too)
        (user, f"/api/{user['id']}/tasks/", False),
        (user, f"/api/{user['id']}/tasks/?status=pending&sort=due_date&tag={user['tag']}", False),
        (user, f"/api/{user['id']}/tasks/{user['tasks'][0]}/", True),
        (big, f"/api/{big['id']}/tasks/", False),
    ]
    problems = []
    project = servers["project"]
    for who, path, is_task in paths:
        a = fetch(project.url + path, who["token"])
        for key in ("drf", "floor"):
            b = fetch(servers[key].url + path, who["token"])
            label = SERVERS[key]
            if a[0] != 200 or a[0] != b[0] or _json(a[2]) != _json(b[2]):
                problems.append(f"{path}: project {a[0]}, {label} {b[0]}, bodies differ")
            for header in ("X-Total-Count", "ETag") if is_task else ("X-Total-Count",):
                if a[1].get(header) != b[1].get(header):
                    problems.append(
                        f"{path}: {header} project {a[1].get(header)}, {label} {b[1].get(header)}"
                    )
    problems += same_writes(servers, fixtures)
    return problems


def same_writes(servers: dict[str, Server], fixtures: dict) -> list[str]:
    """Toggle, update with If-Match (and a stale one: 412) and create through each server."""
    user = fixtures["users"][1 % len(fixtures["users"])]
    token, base = user["token"], f"/api/{user['id']}/tasks/"
    task_url = f"{base}{user['tasks'][0]}/"
    project = servers["project"]
    problems: list[str] = []
    created: dict[str, dict] = {}

    def check(label: str, what: str, status: int, headers: dict, body, expected: dict | None, code: int):
        if status != code:
            problems.append(f"{what} through the {label}: status {status}, expected {code}")
            return
        if expected is None:
            return
        strip = lambda d: {k: v for k, v in d.items() if k not in VOLATILE}  # noqa: E731
        if not isinstance(body, dict) or strip(body) != strip(expected) or set(body) != set(expected):
            problems.append(f"{what} through the {label}: body {body!r}, expected {expected!r}")
        elif headers.get("ETag") != f'"{body["version"]}"':
            etag = headers.get("ETag")
            problems.append(f"{what} through the {label}: ETag {etag}, version {body['version']}")
        else:  # what it wrote is what the project reads
            read = _json(fetch(project.url + f"{base}{body['id']}/", token)[2])
            if read != body:
                problems.append(f"{what} through the {label}: the project reads {read!r} after it")

    for key, server in servers.items():
        label = SERVERS[key]
        before = _json(fetch(project.url + task_url, token)[2]) or {}
        expected = {**before, "completed": not before.get("completed"), "version": before.get("version", 0)}
        expected["version"] += 1
        status, headers, raw = call(server.url + task_url + "complete/", token, "PATCH")
        body = _json(raw)
        check(label, "toggle", status, headers, body, expected, 200)
        if isinstance(body, dict) and (body.get("completed_at") is None) == bool(body.get("completed")):
            problems.append(f"toggle through the {label}: completed_at {body.get('completed_at')!r}")
        current = _json(fetch(project.url + task_url, token)[2]) or {}
        change = {"title": f"Bench check {key}", "priority": "high"}
        etag = f'"{current.get("version")}"'
        status, headers, raw = call(server.url + task_url, token, "PATCH", change, {"If-Match": etag})
        expected = {**current, **change, "version": current.get("version", 0) + 1}
        check(label, "update with If-Match", status, headers, _json(raw), expected, 200)
        status, headers, raw = call(server.url + task_url, token, "PATCH", change, {"If-Match": etag})
        check(label, "update with a stale If-Match", status, headers, None, None, 412)
        new = {
            "title": "Bench check",
            "description": CREATED_DESCRIPTION,
            "priority": "low",
            "due_date": "2027-01-02T09:00:00Z",
            "tags": ["bench", user["tag"], "BENCH", "Zeta check"],
        }
        idempotency = {"Idempotency-Key": f"bench-check-{key}-{secrets.token_hex(6)}"}
        status, headers, raw = call(server.url + base, token, "POST", new, idempotency)
        created[key] = _json(raw)
        reference = created.get("project") or created[key]
        check(label, "create", status, headers, created[key], reference, 201)
    return problems


# --- wrk ------------------------------------------------------------------------------------------
def wrk(args, url: str, script: str, data: Path, duration: int, extra_env: dict | None = None) -> dict:
    env = {
        **os.environ,
        "BENCH_DATA": str(data),
        "BENCH_SCENARIOS": str(SCENARIOS),
        "BENCH_THREADS": str(args.threads),
        **(extra_env or {}),
    }
    command = [
        "wrk",
        "--latency",
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(SCENARIOS / f"{script}.lua"),
        url,
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 60)
    match = re.search(r"^BENCH_RESULT (.*)$", output.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk gave no result:\n{output.stdout}\n{output.stderr}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["non2xx"] += result["socket_errors"] + result["timeouts"]
    return result


def non2xx_text(runs: list[dict]) -> str:
    """The non-2xx count, with its statuses and socket errors when there are any."""
    total = sum(run["non2xx"] for run in runs)
    if not total:
        return "0"
    statuses: dict[str, int] = {}
    for run in runs:
        for status, n in run["statuses"].items():
            if not status.startswith("2"):
                statuses[status] = statuses.get(status, 0) + n
        errors = run["socket_errors"] + run["timeouts"]
        if errors:
            statuses["socket errors/timeouts"] = statuses.get("socket errors/timeouts", 0) + errors
    return f"{total} (" + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items())) + ")"


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def paired_ratio(runs: list[dict], others: list[dict], key: str = "rps") -> float:
    """The median over the rounds of runs[i][key] / others[i][key]: each ratio pairs two runs of
    the same round, close in time, so a machine that gets busier during the run moves it less."""
    return statistics.median(a[key] / b[key] for a, b in zip(runs, others, strict=True))


def measure(
    args, server: Server, script: str, data: Path, duration: int, extra_env: dict | None = None
) -> dict:
    """A wrk run, with the server's workers' CPU time sampled from /proc before and after it."""
    before = server.cpu_seconds()
    result = wrk(args, server.url, script, data, duration, extra_env)
    result["cpu_ms"] = (server.cpu_seconds() - before) * 1000 / max(result["requests"], 1)
    return result


def rotation(round_number: int) -> list[str]:
    """The servers' order in a round: project, DRF floor, bare floor, rotated by one each round."""
    keys = list(SERVERS)
    shift = round_number % len(keys)
    return keys[shift:] + keys[:shift]


# --- Database housekeeping between write runs -----------------------------------------------------
def delete_created_tasks(dsn: str, user_ids: list[str] | None = None) -> int:
    """Delete the tasks the benchmark created (and their stored idempotent responses), so that every
    driven user has its seeded tasks again: a list stays the 50-task page it is meant to be."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        # The links first (the foreign key has no ON DELETE CASCADE: Django cascades in Python).
        where = "(description = %s OR title = 'Query count')"
        params: list = [CREATED_DESCRIPTION]
        if user_ids is not None:  # between runs: the driven users' rows only, by the user index
            where += " AND user_id = ANY(%s)"
            params.append(user_ids)
        deleted = conn.execute(
            f"WITH d AS (SELECT id FROM tasks_task WHERE {where}), "
            "l AS (DELETE FROM tasks_task_tags WHERE task_id IN (SELECT id FROM d)) "
            "DELETE FROM tasks_task WHERE id IN (SELECT id FROM d)",
            params,
        ).rowcount
        conn.execute("DELETE FROM tasks_idempotencykey WHERE key LIKE 'bench-%%' OR key LIKE 'count-%%'")
    return deleted


def settle(workdir: Path, fixtures: dict) -> None:
    """Wait until the writes wrk abandoned at the end of the last run are done (the versions stop
    moving), then rewrite users.lua with the tasks' current versions, so that an update's If-Match
    is the ETag a client would have seen, not a stale one."""
    from tasks.models import Task

    ids = [task_id for user in fixtures["users"] for task_id in user["tasks"]]
    previous = None
    for _ in range(20):
        current = dict(Task.objects.filter(pk__in=ids).values_list("id", "version"))
        if current == previous:
            break
        previous = current
        time.sleep(0.3)
    write_lua_data(workdir / "users.lua", fixtures["users"], previous or {})


# --- Report ---------------------------------------------------------------------------------------
def versions(env: dict) -> dict[str, str]:
    import django
    import gunicorn
    import jwt
    import orjson
    import psycopg
    import rest_framework

    with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("[")[0]
    return {
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "DRF": rest_framework.VERSION,
        "gunicorn": gunicorn.__version__,
        "psycopg": psycopg.__version__,
        "orjson": orjson.__version__,
        "PyJWT": jwt.__version__,
        "PostgreSQL": server,
        "wrk": wrk_version.replace("wrk ", "").strip(),
    }


def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        memory_kb = int(info.readline().split()[1])
    return {
        "cores": str(os.cpu_count()),
        "CPU": cpu,
        "memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f}"


def git_revision() -> str:
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "tasks", "accounts", "todo_project"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return revision.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def ratio_text(value: float) -> str:
    return f"{value:.2f}x"


def memory_growth(mem: dict) -> tuple[float, dict, dict] | None:
    """The largest RSS change of a worker from the first count to the last sample, or None."""
    if len(mem["samples"]) < 3:
        return None
    first, last = mem["samples"][1], mem["samples"][-1]
    growths = [last["rss"][pid] / first["rss"][pid] - 1 for pid in first["rss"] if pid in last["rss"]]
    if not growths:
        return None
    return max(growths, key=abs), first, last


def targets(context: dict) -> list[tuple[str, str, bool]]:
    """Each target of issue 11 with the figure that decides it."""
    verdicts = []
    for name, runs in context.get("compare", {}).items():
        p, d = runs["project"], runs["drf"]
        ratio = paired_ratio(p, d)
        verdicts.append(
            (
                f"{name}: throughput >= {TARGET_THROUGHPUT:.2f}x the DRF floor's",
                ratio_text(ratio),
                ratio >= TARGET_THROUGHPUT,
            )
        )
        p99 = paired_ratio(p, d, "p99_us")
        verdicts.append(
            (f"{name}: p99 <= {TARGET_P99:.1f}x the DRF floor's p99", ratio_text(p99), p99 <= TARGET_P99)
        )
        non2xx = sum(run["non2xx"] for run in p)
        verdicts.append((f"{name}: 0 non-2xx (project)", non2xx_text(p), non2xx == 0))
    scale = context.get("scale")
    if scale:
        base = median_of(scale["scale-100 first"]["project"], "p99_us")
        for key, label in (
            ("scale-100k first", "100,000 tasks, first page"),
            ("scale-100k deep", "deep page"),
        ):
            if key in scale:
                growth = median_of(scale[key]["project"], "p99_us") / base
                verdicts.append(
                    (f"scale: p99 growth, 100 tasks -> {label} <= 1.3x", f"{growth:.2f}x", growth <= 1.3)
                )
        non2xx = sum(run["non2xx"] for entry in scale.values() for run in entry["project"])
        verdicts.append(("scale: 0 non-2xx (project)", str(non2xx), non2xx == 0))
    mem = context.get("memory")
    if mem:
        label = f"memory: RSS per worker flat (±{TARGET_MEMORY:.0%}) from {mem['checkpoints'][0]:,} to "
        label += f"{mem['checkpoints'][-1]:,} requests"
        growth = memory_growth(mem)
        if growth is None:
            served = mem["samples"][-1]["requests"]
            verdicts.append((label, f"not measured: {served:,} requests in --memory-max-seconds", False))
        else:
            worst, first, last = growth
            reached = last["requests"] >= mem["checkpoints"][-1]
            measured = f"{worst:+.1%} (worst worker, {first['requests']:,} -> {last['requests']:,} requests"
            measured += ")" if reached else "; stopped by --memory-max-seconds)"
            verdicts.append((label, measured, abs(worst) <= TARGET_MEMORY and reached))
    return verdicts


def write_report(args, env, context: dict) -> Path:
    now = datetime.now(UTC)
    out = Path(args.out) if args.out else BENCH / "results" / f"{now:%Y-%m-%d-%H%M}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Benchmark {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"`make bench` (bench/run.py) at commit {git_revision()}. Every figure is a median over the runs "
        f"shown; each wrk run is {args.duration} s with {args.connections} connections and {args.threads} "
        "threads on 127.0.0.1. Latencies are in milliseconds, measured by wrk (client side, so they "
        "include queueing under this load).",
        "",
        "## Machine and versions",
        "",
        "| | |",
        "|---|---|",
    ]
    for key, value in {**context["machine"], **context["versions"]}.items():
        lines.append(f"| {key} | {value} |")
    server = context["server"]
    lines += [
        f"| worker model | {server} |",
        f"| cache (rate-limit counters) | {'Redis' if 'REDIS_URL' in env else 'per-process memory'} |",
        f"| data | {context['data']} |",
        f"| setup time | {context['setup']} |",
        "",
    ]
    if context.get("same_answers") is not None:
        problems = context["same_answers"]
        lines += [
            "Floor check: "
            + (
                "the DRF floor and the bare floor returned the same JSON bodies, X-Total-Count and task "
                "ETag as the project for the compared reads, and the same status, body (ids and clocks "
                "aside) and ETag for a toggle, an update with If-Match (and 412 for a stale one) and a "
                "create, each read back through the project."
                if not problems
                else "**MISMATCH**: " + "; ".join(problems)
            ),
            "",
        ]

    verdicts = targets(context)
    if verdicts:
        met = sum(ok for _, _, ok in verdicts)
        lines += [
            "## Targets (issue 11)",
            "",
            f"{met} of {len(verdicts)} met. Throughput and p99 ratios: the median over the rounds of the "
            "project's figure over the DRF floor's in the same round (runs in alternation).",
            "",
            "| target | measured | met |",
            "|---|---|---|",
        ]
        lines += [f"| {name} | {measured} | {'yes' if ok else '**no**'} |" for name, measured, ok in verdicts]
        lines.append("")

    compare = context.get("compare")
    queries = context.get("queries", {})
    if compare:
        lines += [
            "## Project vs the DRF floor and the bare floor (alternating runs)",
            "",
            f"Each round runs the three servers one after the other, the order rotated by one each round "
            f"({args.rounds} rounds). Requests/s: the median of the rounds. x DRF and x bare: the median of "
            "the per-round ratios of the project's throughput to the floor's (each round's x DRF in "
            "brackets); the targets use these paired ratios.",
            "",
            "| scenario | project req/s | DRF floor req/s | bare floor req/s | x DRF | x bare "
            "| non-2xx (project, DRF, bare) |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, runs in compare.items():
            p, d, f = runs["project"], runs["drf"], runs["floor"]
            per_round = ", ".join(f"{a['rps'] / b['rps']:.2f}" for a, b in zip(p, d, strict=True))
            lines.append(
                f"| {SCENARIO_TITLES[name]} | {median_of(p, 'rps'):.0f} | {median_of(d, 'rps'):.0f} | "
                f"{median_of(f, 'rps'):.0f} | **{paired_ratio(p, d):.2f}** "
                f"({per_round}) | {paired_ratio(p, f):.2f} | "
                f"{non2xx_text(p)}, {non2xx_text(d)}, {non2xx_text(f)} |"
            )
        lines += [
            "",
            "## Latency, server CPU and queries per request",
            "",
            "p50 / p99 in ms (wrk, client side). CPU: user + system time of the server's gunicorn workers "
            "(from /proc, before and after each run) divided by the requests served, in ms per request "
            "(PostgreSQL's own CPU is not in it). Queries: the project's statements per request.",
            "",
            "| scenario | project p50 / p99 | DRF floor p50 / p99 | bare floor p50 / p99 | p99 x DRF "
            "| CPU ms/req project / DRF / bare | queries |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, runs in compare.items():
            p, d, f = runs["project"], runs["drf"], runs["floor"]
            latency = " | ".join(
                f"{ms(median_of(r, 'p50_us'))} / {ms(median_of(r, 'p99_us'))}" for r in (p, d, f)
            )
            cpu = " / ".join(f"{median_of(r, 'cpu_ms'):.2f}" for r in (p, d, f))
            lines.append(
                f"| {SCENARIO_TITLES[name]} | {latency} | "
                f"**{paired_ratio(p, d, 'p99_us'):.2f}** | {cpu} | "
                f"{queries.get(name, {}).get('queries', '?')} |"
            )
        lines += [
            "",
            "Queries per request: each scenario's request sent once through Django's test client (after a "
            "warm-up request) with `CaptureQueriesContext`, counting every statement Django sends, "
            "BEGIN/COMMIT and savepoints included (the mix figure is the weighted mean). Not included: "
            "a `SELECT 1` health check Django runs on a reused connection (CONN_HEALTH_CHECKS). Both floors "
            "send the user row, then for a list the counts, the page and the tags (4 in all), for a detail "
            "the task and its tags (3), for a write one statement with RETURNING (2).",
            "",
        ]
    mem = context.get("memory")
    if mem:
        samples = mem["samples"]
        pids = list(samples[0]["rss"]) if samples else []
        lines += [
            "## Memory: RSS per project worker",
            "",
            "A fresh project server (same gunicorn settings) under wrk's list/detail mix "
            "(scenarios/memory.lua), each worker's VmRSS read from /proc after the requests shown "
            f"(the run stops after {mem['max_seconds']} s: --memory-max-seconds).",
            "",
            "| requests served | " + " | ".join(f"worker {i + 1} (MiB)" for i in range(len(pids))) + " |",
            "|---|" + "---|" * len(pids),
        ]
        for sample in samples:
            cells = [f"{sample['rss'][pid] / 1024:.1f}" if pid in sample["rss"] else "(gone)" for pid in pids]
            lines.append(f"| {sample['requests']:,} | " + " | ".join(cells) + " |")
        lines.append("")
        if len(samples) >= 3:
            first, last = samples[1], samples[-1]
            changes = ", ".join(
                f"worker {i + 1} {last['rss'][pid] / first['rss'][pid] - 1:+.1%}"
                for i, pid in enumerate(pids)
                if pid in first["rss"] and pid in last["rss"]
            )
            lines += [
                f"From {first['requests']:,} to {last['requests']:,} requests: {changes} "
                f"(target ±{TARGET_MEMORY:.0%}); {mem['non2xx']} non-2xx in {mem['seconds']:.0f} s of load.",
                "",
            ]
    scale = context.get("scale")
    if scale:
        lines += [
            "## Scale: one user's list in a table of 1,000,000 tasks",
            "",
            "The project in alternation with the bare floor (the order flipped each round); the target is "
            "the p99 growth from the 100-task user.",
            "",
            "| user's tasks | page | project req/s | p50 | p99 | p99 vs 100 tasks | bare floor req/s "
            "| x bare | non-2xx |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        base = median_of(scale["scale-100 first"]["project"], "p99_us")
        for key, runs in scale.items():
            p, f = runs["project"], runs.get("floor") or []
            user_id, page = key.split(" ")
            info = context["fixtures"]["scale"][user_id]
            page_text = "first" if page == "first" else f"deep (after {info['depth']:,}, by cursor)"
            ratio = f"{paired_ratio(p, f):.2f}" if f else "-"
            floor_rps = f"{median_of(f, 'rps'):.0f}" if f else "-"
            p99 = median_of(p, "p99_us")
            lines.append(
                f"| {info['count']:,} | {page_text} | {median_of(p, 'rps'):.0f} | "
                f"{ms(median_of(p, 'p50_us'))} | {ms(p99)} | **{p99 / base:.2f}x** | {floor_rps} | {ratio} | "
                f"{sum(r['non2xx'] for r in p)} |"
            )
        lines.append("")
    if queries:
        lines += ["## The SQL of each request", ""]
        for name, info in queries.items():
            if info["sql"]:
                lines.append(f"- **{name}** (status {info['status']}, {info['queries']} statements):")
                for statement in info["sql"]:
                    short = statement if len(statement) < 240 else statement[:237] + "…"
                    lines.append(f"  - `{short}`")
        lines.append("")
    if context.get("sweep"):
        lines += [
            "## Worker model (project only, same load)",
            "",
            "| gunicorn | list req/s | list p99 | detail req/s | detail p99 | non-2xx |",
            "|---|---|---|---|---|---|",
        ]
        for row in context["sweep"]:
            list_run, detail_run = row["list"], row["detail"]
            lines.append(
                f"| {row['model']} | {list_run['rps']:.0f} | {ms(list_run['p99_us'])} | "
                f"{detail_run['rps']:.0f} | {ms(detail_run['p99_us'])} | "
                f"{list_run['non2xx'] + detail_run['non2xx']} |"
            )
        lines.append("")
    profiles = context.get("profiles")
    if profiles:
        lines += [
            "## Where the project's time goes (py-spy, under the same load)",
            "",
            "py-spy sampled the project's gunicorn workers at 50 Hz while wrk ran each scenario "
            "(idle threads left out). Self time by where the sampled frame is, then the inclusive "
            "share of some spans. Raw stacks: bench/results/profile-*.raw.txt (flamegraph.pl input).",
            "",
        ]
        for script, result in profiles.items():
            lines += [f"**{script}** ({result['samples']} samples)", ""]
            lines += ["| self time in | share |", "|---|---|"]
            lines += [f"| {name} | {share:.0%} |" for name, share in result["self"]]
            lines += ["", "| span (inclusive) | share |", "|---|---|"]
            lines += [f"| {name} | {share:.0%} |" for name, share in result["spans"] if share > 0]
            lines.append("")
    if context.get("serialization"):
        from bench import serialization

        lines += [serialization.markdown(context["serialization"]), ""]
    if context.get("explain"):
        lines += [
            "## EXPLAIN (ANALYZE, BUFFERS): the 100,000-task user in 1,000,000 tasks",
            "",
            context["explain"],
            "",
        ]
    errors = context.get("server_errors", {})
    lines += [
        "## Server logs",
        "",
        *(f"- {name}: {count} error lines" for name, count in errors.items()),
        "",
    ]
    out.write_text("\n".join(lines))
    return out


# --- Main -----------------------------------------------------------------------------------------
def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install wrk` (make bench does it).", file=sys.stderr)
        return 2
    parts = set(filter(None, args.only.split(","))) or {"compare", "writes", "scale", "memory", "profile"}
    database_url = f"{args.pg}/{args.database}"
    env = production_env(args, database_url)
    os.environ.update(env)
    if "REDIS_URL" not in env:
        os.environ.pop("REDIS_URL", None)
    dsn = database_url.replace("postgres://", "postgresql://", 1)
    started = time.perf_counter()
    (BENCH / "results").mkdir(parents=True, exist_ok=True)
    context: dict = {"machine": machine()}
    log(f"database {args.database}")
    timings = prepare_database(args, env)
    deleted = delete_created_tasks(dsn)
    if deleted:
        log(f"deleted {deleted} tasks an earlier run created")
    manage(env, "collectstatic", "--noinput", "-v0")
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    fixtures = build_fixtures(args, workdir)
    user_ids = [user["id"] for user in fixtures["users"]]
    context["fixtures"] = fixtures
    context["versions"] = versions(env)
    context["queries"] = count_queries(fixtures)
    from bench import explain, serialization

    log("serialization timing and EXPLAIN plans")
    serialization.ensure_user()
    context["serialization"] = serialization.measure(token_for(serialization.USER_ID))
    big = fixtures["scale"]["scale-100k"]
    context["explain"] = explain.explain_markdown(
        big["id"], big["token"], big.get("cursor"), big.get("depth"), "###"
    )
    if args.write_docs:
        write_docs(context)
    delete_created_tasks(dsn, user_ids)  # count_queries' create
    tasks_per_user = statistics.median(len(user["tasks"]) for user in fixtures["users"])
    SCENARIO_TITLES["list"] = f"list ({tasks_per_user:.0f} tasks, default page)"
    context["data"] = (
        f"{len(fixtures['users'])} seed_demo users ({tasks_per_user:.0f} tasks each) driven by the "
        f"scenarios; tasks table {args.scale_tasks:,} rows"
    )
    setup_seconds = time.perf_counter() - started
    context["setup"] = (
        f"{setup_seconds:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + ")"
    )

    context["server"] = gunicorn_settings(env)

    servers = start_servers(env, workdir)
    project, floor_server = servers["project"], servers["floor"]
    stopped: list[Server] = []
    try:
        project.wait_ready("/healthz")
        for key in ("drf", "floor"):
            servers[key].wait_ready("/api/x/tasks/")
        context["same_answers"] = same_answers(servers, fixtures)
        for problem in context["same_answers"]:
            log(f"floor check: {problem}")
        delete_created_tasks(dsn, user_ids)  # the check's creates
        users = workdir / "users.lua"
        settle(workdir, fixtures)
        # Warm all three (worker imports, connections, PostgreSQL's cache) before anything is measured.
        for server in servers.values():
            wrk(args, server.url, "list", users, 3)
            wrk(args, server.url, "detail", users, 2)

        names = [n for n in READ_SCENARIOS if "compare" in parts]
        names += [n for n in WRITE_SCENARIOS if "writes" in parts]
        context["compare"] = {}
        for name in names:
            runs: dict[str, list[dict]] = {key: [] for key in SERVERS}
            for round_number in range(args.rounds):
                for key in rotation(round_number):
                    if name in WRITE_SCENARIOS:
                        # Each write run starts from the seeded tasks and the versions they have now
                        # (requests wrk abandoned at the end of the last run finished first).
                        delete_created_tasks(dsn, user_ids)
                        settle(workdir, fixtures)
                    runs[key].append(measure(args, servers[key], name, users, args.duration))
                log(
                    f"{name} round {round_number + 1}: "
                    + ", ".join(
                        f"{SERVERS[key]} {runs[key][-1]['rps']:.0f} req/s "
                        f"({runs[key][-1]['cpu_ms']:.2f} ms CPU, {runs[key][-1]['non2xx']} non-2xx)"
                        for key in SERVERS
                    )
                )
            context["compare"][name] = runs
        context["scenarios"] = {name: runs["project"] for name, runs in context["compare"].items()}
        if any(name in WRITE_SCENARIOS for name in names):
            delete_created_tasks(dsn, user_ids)

        if "scale" in parts:
            scale = {}
            for round_number in range(args.scale_rounds):
                for user_id, info in fixtures["scale"].items():
                    pages = [("first", "", "")]
                    if "cursor" in info:
                        pages.append(
                            (
                                "deep",
                                f"?cursor={quote(info['cursor'])}",
                                f"?cursor={quote(info['floor_cursor'])}",
                            )
                        )
                    for page, query, floor_query in pages:
                        key = f"{user_id} {page}"
                        entry = scale.setdefault(key, {"project": [], "floor": []})
                        data = workdir / f"{user_id}.lua"
                        path = f"/api/{user_id}/tasks/"
                        order = [("project", project, query), ("floor", floor_server, floor_query)]
                        for label, server, q in order if round_number % 2 == 0 else order[::-1]:
                            entry[label].append(
                                measure(args, server, "fixed", data, args.duration, {"BENCH_PATH": path + q})
                            )
                        last_project, last_floor = entry["project"][-1], entry["floor"][-1]
                        log(
                            f"scale {key} round {round_number + 1}: project {last_project['rps']:.0f} req/s "
                            f"p99 {ms(last_project['p99_us'])} ms, floor {last_floor['rps']:.0f} req/s"
                        )
            context["scale"] = scale
        try:  # the optional parts: a failure here must not lose the report of the rest
            if "memory" in parts:
                for server in servers.values():  # nothing else on the machine's two cores meanwhile
                    server.stop()
                    stopped.append(server)
                context["memory"] = memory(args, env, workdir, users)
            if "profile" in parts:
                if project in stopped:
                    project = servers["project"] = Server("project-profile", None, env, workdir)
                    project.wait_ready("/healthz")
                    wrk(args, project.url, "list", users, 2)
                context["profiles"] = {}
                for script in args.profile.split(","):
                    result = profile(args, project, script, users)
                    if result:
                        context["profiles"][script] = result
                        shutil.copy(result["raw"], BENCH / "results" / f"profile-{script}.raw.txt")
            if args.sweep:
                for server in servers.values():
                    server.stop()
                context["sweep"] = sweep(args, env, workdir, users)
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            log(f"memory, profile or sweep failed: {error!r}")
    finally:
        for server in servers.values():
            server.stop()
    context["server_errors"] = {
        server.name: sum('"level":"ERROR"' in line or "Traceback" in line for line in server.log_path.open())
        for server in [*servers.values(), *stopped]
    }
    context["machine"]["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    context["machine"]["total run time"] = f"{time.perf_counter() - started:.0f} s"
    report = write_report(args, env, context)
    log(f"report: {report} (server logs in {workdir})")
    return 0


def memory(args, env: dict, workdir: Path, users: Path) -> dict:
    """RSS of each worker of a fresh project after N1, N2, ... requests of a list/detail mix."""
    checkpoints = sorted(int(n) for n in args.memory_requests.split(","))
    server = Server("project-memory", None, env, workdir)
    samples: list[dict] = []
    chunks: list[dict] = []
    served = 0
    try:
        server.wait_ready("/healthz")
        samples.append({"requests": 0, "rss": server.rss_kb()})
        deadline = time.monotonic() + args.memory_max_seconds
        rate = None
        for target in checkpoints:
            while served < target and time.monotonic() < deadline:
                left = target - served
                # Chunks of at most 30 s, sized from the rate seen so far (a first probe of 5 s).
                seconds = 5 if rate is None else min(30, max(2, round(left / rate) + 1))
                seconds = max(1, min(seconds, round(deadline - time.monotonic()) or 1))
                chunk_started = time.monotonic()
                result = wrk(args, server.url, "memory", users, seconds)
                served += result["requests"]
                rate = result["rps"] or 1
                chunks.append(
                    {
                        "seconds": round(time.monotonic() - chunk_started, 1),
                        "requests": result["requests"],
                        "non2xx": result["non2xx"],
                    }
                )
            samples.append({"requests": served, "rss": server.rss_kb(), "target": target})
            log(
                f"memory after {served:,} requests (target {target:,}): "
                + ", ".join(f"{kb / 1024:.1f} MiB" for kb in samples[-1]["rss"].values())
            )
            if served < target:
                break
    finally:
        server.stop()
    log(f"memory load: {chunks}")
    return {
        "samples": samples,
        "checkpoints": checkpoints,
        "max_seconds": args.memory_max_seconds,
        "non2xx": sum(chunk["non2xx"] for chunk in chunks),
        "seconds": sum(chunk["seconds"] for chunk in chunks),
    }


EXPLAIN_INTRO = """# Query plans of the task list and detail

Generated by `make bench BENCH_ARGS=--write-docs` (bench/explain.py) on PostgreSQL with the
benchmark's data: a tasks table of 1,000,000 rows, the user below owning 100,000 of them, 0-3 tags
per task. Each statement is the one the project sends for the request named (captured through
Django's test client), explained twice so that the plan shown is the warm one.

What serves what:

- **Default page**: the total is one row of `tasks_taskcount` (kept by triggers, migration
  0002), not a count of 100,000 index entries; the page is a backward scan of `task_user_created`
  that stops after 101 rows.
- **Deep page by cursor**: the cursor is a row comparison `(created_at, id) < (…, …)`, an index
  condition on the same index, so page 900 reads what page 1 reads.
- **Sorts**: each sort has its `(user, key, id)` index (`task_user_due`, `task_user_title`,
  `task_user_priority`, `task_user_updated`); `NULLS LAST` is asked only for `due_date`, where
  the ascending index already stores NULLs last.
- **Filters**: `status` alone uses the counts. A tag filter names the tag's owner, so PostgreSQL
  finds the one tag by `tag_unique_per_user_ci` and reads only its rows of `tasks_task_tags`
  (`tasks_task_tags_tag_id_…`), each task by its primary key: the count and the page cost what the
  user's tasks carrying that tag cost (25,000 here, about 100 ms each), never what the table holds
  (before, the count joined every user's tag of that name: a sequential scan of all 1,500,000
  task-tag rows, 250 ms). The price: for a tag this common, a sorted page now gathers the tagged
  tasks and sorts them (about 100 ms) where walking the sort index and checking each row took 3 ms;
  for a rare tag it is the other way round. A search reads all of the user's tasks (no index
  serves a substring; a trigram index would be the next step if such searches matter).
- **Tag names of a page**: one query, the page's ids in `tasks_task_tags` and the owner's few tags
  hash-joined (naming the owner avoids a sequential scan of every user's tags).
- **Detail**: the primary key; its tags as above.
- **Known limits**: `sort=-due_date` sorts the user's rows (its `DESC NULLS LAST` order is not the
  reverse of the ascending index; an index `(user, due_date DESC NULLS LAST, id DESC)` would serve
  it), and a deep `sort=due_date` page filters `… OR due_date IS NULL` instead of starting the
  index range at the cursor. Neither is in the benchmark's targets.

"""

SERIALIZATION_INTRO = """# Serialization cost of a task list

Generated by `make bench BENCH_ARGS=--write-docs` (bench/serialization.py): a user with 100 tasks
carrying 3 tags each, on PostgreSQL, production settings. The serializer is hand-written
(`TaskSerializer.to_representation` builds plain dicts) and the renderer is orjson; the selector
gives each task its tag names from one query of `(task_id, name)` rows (`with_tag_names`), because
`prefetch_related` built a related manager and a queryset per task, which cost more than the rest
of the request (before that change the same request took about twice as long).

"""


REMINDERS_HEADING = "# Query plan of the reminder due scan"


def write_docs(context: dict) -> None:
    from bench import serialization

    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    machine_line = (
        f"Measured on {context['machine']['cores']} cores ({context['machine']['CPU']}), "
        f"PostgreSQL {context['versions']['PostgreSQL'].split()[0]}, "
        f"{datetime.now(UTC):%Y-%m-%d}; the machine is shared, so absolute times are noisy.\n\n"
    )
    # The reminder due scan's section (written by hand from bench/reminders_explain.sql) is kept.
    previous = (docs / "EXPLAIN.md").read_text() if (docs / "EXPLAIN.md").exists() else ""
    kept = previous[previous.index(REMINDERS_HEADING) :] if REMINDERS_HEADING in previous else ""
    (docs / "EXPLAIN.md").write_text(
        EXPLAIN_INTRO + machine_line + context["explain"].replace("### ", "## ") + "\n" + kept
    )
    (docs / "SERIALIZATION.md").write_text(
        SERIALIZATION_INTRO + machine_line + serialization.markdown(context["serialization"]) + "\n"
    )
    log("wrote docs/EXPLAIN.md and docs/SERIALIZATION.md")


# Where a sampled frame's time goes, by the file it is in (first match wins).
PROFILE_CATEGORIES = [
    ("psycopg (driver, incl. waiting for PostgreSQL)", ("psycopg/", "psycopg_binary", "psycopg_c")),
    ("Django ORM (building SQL, model instances)", ("django/db/",)),
    ("DRF (request, negotiation, views, throttles)", ("rest_framework/",)),
    ("JWT verification (PyJWT, cryptography)", ("jwt/", "cryptography/")),
    ("Redis client (rate-limit counter)", ("redis/",)),
    ("Django request handling and middleware", ("django/", "corsheaders/", "whitenoise/", "axes/")),
    ("project code (views, selectors, serializers, auth, log)", ("tasks/", "accounts/", "todo_project/")),
    ("logging (stdlib)", ("logging/",)),
    ("gunicorn (accept, parse, write)", ("gunicorn/", "socket.py", "selectors.py", "ssl.py")),
]
# Leaf frames of a worker with nothing to do: gthread's event loop and its pool's queue.
IDLE_LEAVES = (".select (selectors.py", ".poll (selectors.py", "wait (threading.py", "get (queue.py")
# Spans whose inclusive share is worth knowing: (label, substring of a frame).
PROFILE_SPANS = [
    ("authentication (token + user row)", "BetterAuthJWTAuthentication.authenticate"),
    ("  PyJWT decode", "verify (accounts/authentication.py"),
    ("  user lookup / sync", "user_sync_from_claims"),
    ("rate-limit throttle", "allow_request"),
    ("list selector (SQL + models)", "task_list (tasks/selectors.py"),
    ("detail selector", "task_get (tasks/selectors.py"),
    ("tag names", "with_tag_names"),
    ("TaskSerializer", "to_representation (tasks/api/serializers.py"),
    ("orjson render", "ORJSONRenderer.render"),
    ("the whole Django request (inside the first middleware)", "RequestIDMiddleware.__call__"),
    ("Django DB connection health check / close", "close_if_"),
]


def sweep(args, env: dict, workdir: Path, users: Path) -> list[dict]:
    """The project under each worker model in --sweep: list and detail throughput and p99."""
    results = []
    for spec in args.sweep.split(","):
        worker_class, workers, threads = spec.split(":")
        server_env = {
            **env,
            "GUNICORN_WORKER_CLASS": worker_class,
            "GUNICORN_WORKERS": workers,
            "GUNICORN_THREADS": threads,
        }
        server = Server(f"sweep-{worker_class}-{workers}-{threads}", None, server_env, workdir)
        try:
            server.wait_ready("/healthz")
            wrk(args, server.url, "list", users, 2)
            row = {"model": f"{worker_class}, {workers} workers x {threads} threads"}
            for script in ("list", "detail"):
                result = wrk(args, server.url, script, users, args.duration)
                row[script] = result
            list_rps, detail_rps = row["list"]["rps"], row["detail"]["rps"]
            log(f"sweep {row['model']}: list {list_rps:.0f} req/s, detail {detail_rps:.0f}")
            results.append(row)
        finally:
            server.stop()
    return results


def py_spy() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def profile(args, server: "Server", script: str, data: Path, seconds: int = 8) -> dict | None:
    """Sample the project's workers with py-spy while wrk drives `script`; shares by category."""
    tool = py_spy()
    if tool is None:
        return None
    out = data.parent / f"profile-{script}.txt"
    load = subprocess.Popen(
        [
            "wrk",
            "-t",
            str(args.threads),
            "-c",
            str(args.connections),
            "-d",
            f"{seconds + 3}s",
            "-s",
            str(SCENARIOS / f"{script}.lua"),
            server.url,
        ],
        env={
            **os.environ,
            "BENCH_DATA": str(data),
            "BENCH_SCENARIOS": str(SCENARIOS),
            "BENCH_THREADS": str(args.threads),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.5)
    subprocess.run(
        [
            tool,
            "record",
            "--pid",
            str(server.process.pid),
            "--subprocesses",
            "--rate",
            "50",
            "--duration",
            str(seconds),
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        capture_output=True,
        timeout=seconds + 60,
    )
    load.wait(timeout=seconds + 30)
    if not out.exists():
        return None
    categories: dict[str, int] = {}
    spans = dict.fromkeys((label for label, _ in PROFILE_SPANS), 0)
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [frame for frame in stack.split(";") if not frame.startswith(("process ", "Thread"))]
        leaf = frames[-1] if frames else ""
        if not frames or "(threading.py" in leaf or any(mark in leaf for mark in IDLE_LEAVES):
            continue  # a thread waiting for work or for a new connection
        n = int(count)
        total += n
        leaf = frames[-1]
        category = next((name for name, marks in PROFILE_CATEGORIES if any(m in leaf for m in marks)), None)
        category = category or "other (stdlib, C)"
        categories[category] = categories.get(category, 0) + n
        for label, mark in PROFILE_SPANS:
            if any(mark in frame for frame in frames):
                spans[label] += n
    if not total:
        return None
    return {
        "samples": total,
        "self": sorted(((k, v / total) for k, v in categories.items()), key=lambda item: -item[1]),
        "spans": [(k, v / total) for k, v in spans.items()],
        "raw": str(out),
    }


def gunicorn_settings(env: dict) -> str:
    """The worker model gunicorn.conf.py resolves to under this environment."""
    output = subprocess.run(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--print-config",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    found = dict(re.findall(r"^(worker_class|workers|threads)\s*=\s*(\S+)", output, re.MULTILINE))
    model = f"{found.get('worker_class', '?')}, {found.get('workers', '?')} workers"
    threads = found.get("threads", "?")
    return f"{model} x {threads} threads (gunicorn.conf.py), the same for the three servers"


if __name__ == "__main__":
    sys.exit(main())
