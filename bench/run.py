"""`make bench`: build a PostgreSQL database, seed it, serve it with gunicorn, load it with wrk, and
write a Markdown report under bench/results/.

Steps: create the database (dropped first unless --reuse-db), migrate, `seed_demo` for the users the
scenarios drive, top the tasks table up to 1,000,000 rows (bench/scale.py), collectstatic, mint real
tokens, count the queries of each scenario's request with Django's test client, start the project
and the floor (bench/floor.py) under the same gunicorn settings, check that both answer the same
bytes, then run every scenario with wrk: the ones the floor has in alternation with it.

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

# Scenario name -> (wrk script, the request whose queries are counted, whether the floor has it).
PROJECT_SCENARIOS = ["list", "list_filtered", "detail", "create", "toggle", "update", "mix"]
FLOOR_SCENARIOS = ["list", "list_filtered", "detail"]
SCENARIO_TITLES = {
    "list": "list, default page",
    "list_filtered": "list ?status=pending&sort=due_date&tag=…",
    "detail": "detail",
    "create": "create (with Idempotency-Key)",
    "toggle": "toggle (PATCH …/complete/)",
    "update": "update (PATCH with If-Match)",
    "mix": "mix 70 % read / 20 % write / 10 % create",
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="bench_todo", help="PostgreSQL database to (re)create.")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="Server URL, no database.")
    parser.add_argument("--reuse-db", action="store_true", help="Keep an already seeded database.")
    parser.add_argument("--users", type=int, default=100, help="seed_demo users the scenarios drive.")
    parser.add_argument("--tasks-per-user", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale-tasks", type=int, default=1_000_000, help="Rows in the tasks table.")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument("--duration", type=int, default=8, help="Seconds per wrk run.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating project/floor rounds.")
    parser.add_argument("--scale-rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None, help="GUNICORN_WORKERS (default: conf).")
    parser.add_argument("--gunicorn-threads", type=int, default=None, help="GUNICORN_THREADS.")
    parser.add_argument("--worker-class", default=None, help="GUNICORN_WORKER_CLASS (default: conf).")
    parser.add_argument("--only", default="", help="Comma-separated parts: compare,writes,scale,profile.")
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


def refresh_versions(workdir: Path, fixtures: dict) -> None:
    """Rewrite users.lua with the tasks' current versions (a toggle run changes them), so that an
    update's If-Match is the ETag a client would have seen, not a stale one."""
    from tasks.models import Task

    ids = [task_id for user in fixtures["users"] for task_id in user["tasks"]]
    versions = dict(Task.objects.filter(pk__in=ids).values_list("id", "version"))
    write_lua_data(workdir / "users.lua", fixtures["users"], versions)


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
    def __init__(self, name: str, app: str | None, env: dict, workdir: Path):
        self.name, self.port = name, free_port()
        self.log_path = workdir / f"{name}.log"
        command = [str(Path(sys.executable).parent / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py")]
        if app:
            command.append(app)
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "PORT": str(self.port)}
        self.log_file = open(self.log_path, "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                urllib.request.urlopen(self.url + path, timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers (a 401 from the floor is an answer)
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log_file.close()


def fetch(url: str, token: str) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Host": "127.0.0.1"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def same_answers(project: Server, floor_server: Server, fixtures: dict) -> list[str]:
    """The floor must do the project's work: the same bodies and counts for the compared requests."""
    user = fixtures["users"][0]
    big = fixtures["scale"]["scale-100k"]
    paths = [
        (user, f"/api/{user['id']}/tasks/"),
        (user, f"/api/{user['id']}/tasks/?status=pending&sort=due_date&tag={user['tag']}"),
        (user, f"/api/{user['id']}/tasks/{user['tasks'][0]}/"),
        (big, f"/api/{big['id']}/tasks/"),
    ]
    problems = []
    for who, path in paths:
        a, b = fetch(project.url + path, who["token"]), fetch(floor_server.url + path, who["token"])
        if a[0] != 200 or a[0] != b[0] or json.loads(a[2]) != json.loads(b[2]):
            problems.append(f"{path}: project {a[0]}, floor {b[0]}, bodies differ")
        elif a[1].get("X-Total-Count") != b[1].get("X-Total-Count"):
            problems.append(
                f"{path}: X-Total-Count {a[1].get('X-Total-Count')} vs {b[1].get('X-Total-Count')}"
            )
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


def targets(context: dict) -> list[tuple[str, str, bool]]:
    """Each target of issue 6 with the figure that decides it."""
    verdicts = []
    for name in ("list", "detail"):
        runs = context.get("compare", {}).get(name)
        if runs:
            ratio = median_of(runs["project"], "rps") / median_of(runs["floor"], "rps")
            verdicts.append((f"{name} throughput >= 60 % of the floor", f"{ratio:.0%}", ratio >= 0.6))
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
                    (f"p99 growth, 100 tasks -> {label} <= 1.3x", f"{growth:.2f}x", growth <= 1.3)
                )
    all_runs = [run for runs in context.get("scenarios", {}).values() for run in runs]
    all_runs += [run for entry in (scale or {}).values() for run in entry["project"]]
    if all_runs:
        non2xx = sum(run["non2xx"] for run in all_runs)
        verdicts.append(("zero non-2xx under load (project)", str(non2xx), non2xx == 0))
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
        f"| gunicorn | {server} |",
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
                "the floor returned the same JSON bodies and X-Total-Count as the project "
                "for the compared requests."
                if not problems
                else "**MISMATCH**: " + "; ".join(problems)
            ),
            "",
        ]

    verdicts = targets(context)
    if verdicts:
        lines += ["## Targets (issue 6)", "", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {name} | {measured} | {'yes' if ok else '**no**'} |" for name, measured, ok in verdicts]
        lines.append("")

    compare = context.get("compare")
    if compare:
        lines += [
            "## Project vs floor (alternating runs)",
            "",
            "| scenario | project req/s | floor req/s | ratio | per-round ratios | project p50 / p99 "
            "| floor p50 / p99 | non-2xx (project, floor) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, runs in compare.items():
            p, f = runs["project"], runs["floor"]
            ratios = ", ".join(f"{a['rps'] / b['rps']:.0%}" for a, b in zip(p, f, strict=True))
            lines.append(
                f"| {SCENARIO_TITLES[name]} | {median_of(p, 'rps'):.0f} | {median_of(f, 'rps'):.0f} | "
                f"**{median_of(p, 'rps') / median_of(f, 'rps'):.0%}** | {ratios} | "
                f"{ms(median_of(p, 'p50_us'))} / {ms(median_of(p, 'p99_us'))} | "
                f"{ms(median_of(f, 'p50_us'))} / {ms(median_of(f, 'p99_us'))} | "
                f"{sum(r['non2xx'] for r in p)}, {sum(r['non2xx'] for r in f)} |"
            )
        lines.append("")

    scenarios = context.get("scenarios", {})
    queries = context.get("queries", {})
    if scenarios:
        lines += [
            "## Scenarios (project)",
            "",
            "| scenario | req/s | p50 | p99 | non-2xx | queries per request |",
            "|---|---|---|---|---|---|",
        ]
        for name in PROJECT_SCENARIOS:
            if name not in scenarios:
                continue
            runs = scenarios[name]
            q = queries.get(name, {})
            rps, p50, p99 = median_of(runs, "rps"), median_of(runs, "p50_us"), median_of(runs, "p99_us")
            non2xx = non2xx_text(runs)
            lines.append(
                f"| {SCENARIO_TITLES[name]} | {rps:.0f} | {ms(p50)} | {ms(p99)} | {non2xx} "
                f"| {q.get('queries', '?')} |"
            )
        lines += [
            "",
            "Queries per request: each scenario's request sent once through Django's test client (after a "
            "warm-up request) with `CaptureQueriesContext`, counting every statement Django sends, "
            "BEGIN/COMMIT and savepoints included (the mix figure is the weighted mean). Not included: "
            "the `SELECT 1` health check Django runs once per request on a reused connection "
            "(CONN_HEALTH_CHECKS).",
            "",
        ]
    scale = context.get("scale")
    if scale:
        lines += [
            "## Scale: one user's list in a table of 1,000,000 tasks",
            "",
            "| user's tasks | page | project req/s | p50 | p99 | p99 vs 100 tasks | floor req/s | ratio "
            "| non-2xx |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        base = median_of(scale["scale-100 first"]["project"], "p99_us")
        for key, runs in scale.items():
            p, f = runs["project"], runs.get("floor") or []
            user_id, page = key.split(" ")
            info = context["fixtures"]["scale"][user_id]
            page_text = "first" if page == "first" else f"deep (after {info['depth']:,}, by cursor)"
            ratio = f"{median_of(p, 'rps') / median_of(f, 'rps'):.0%}" if f else "-"
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
    parts = set(filter(None, args.only.split(","))) or {"compare", "writes", "scale", "profile"}
    database_url = f"{args.pg}/{args.database}"
    env = production_env(args, database_url)
    os.environ.update(env)
    if "REDIS_URL" not in env:
        os.environ.pop("REDIS_URL", None)
    started = time.perf_counter()
    (BENCH / "results").mkdir(parents=True, exist_ok=True)
    context: dict = {"machine": machine()}
    log(f"database {args.database}")
    timings = prepare_database(args, env)
    manage(env, "collectstatic", "--noinput", "-v0")
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    fixtures = build_fixtures(args, workdir)
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
    context["data"] = (
        f"{len(fixtures['users'])} seed_demo users ({args.tasks_per_user} tasks each) driven by the "
        "scenarios; "
        f"tasks table {args.scale_tasks:,} rows"
    )
    setup_seconds = time.perf_counter() - started
    context["setup"] = (
        f"{setup_seconds:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + ")"
    )

    context["server"] = gunicorn_settings(env)

    project = Server("project", None, env, workdir)
    floor_server = Server("floor", "bench.floor:app", env, workdir)
    try:
        project.wait_ready("/healthz")
        floor_server.wait_ready("/api/x/tasks/")
        context["same_answers"] = same_answers(project, floor_server, fixtures)
        for problem in context["same_answers"]:
            log(f"floor check: {problem}")
        users = workdir / "users.lua"
        # Warm both (worker imports, connections, PostgreSQL's cache) before anything is measured.
        for server in (project, floor_server):
            wrk(args, server.url, "list", users, 3)
            wrk(args, server.url, "detail", users, 2)

        if "compare" in parts:
            context["compare"] = {}
            for name in FLOOR_SCENARIOS:
                runs = {"project": [], "floor": []}
                for round_number in range(args.rounds):
                    order = [("project", project), ("floor", floor_server)]
                    for label, server in order if round_number % 2 == 0 else order[::-1]:
                        runs[label].append(wrk(args, server.url, name, users, args.duration))
                    log(
                        f"{name} round {round_number + 1}: project {runs['project'][-1]['rps']:.0f} req/s, "
                        f"floor {runs['floor'][-1]['rps']:.0f} req/s"
                    )
                context["compare"][name] = runs
            context["scenarios"] = {name: runs["project"] for name, runs in context["compare"].items()}

        if "writes" in parts:
            context.setdefault("scenarios", {})
            for name in ("create", "toggle", "update", "mix"):
                # Requests wrk abandoned at the end of the last run may still be in the server's
                # queue; let them finish before reading the versions the next run will send.
                time.sleep(3)
                refresh_versions(workdir, fixtures)
                context["scenarios"][name] = [wrk(args, project.url, name, users, args.duration)]
                result = context["scenarios"][name][0]
                p99, non2xx = ms(result["p99_us"]), result["non2xx"]
                log(f"{name}: {result['rps']:.0f} req/s, p99 {p99} ms, non-2xx {non2xx}")

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
                                wrk(args, server.url, "fixed", data, args.duration, {"BENCH_PATH": path + q})
                            )
                        last_project, last_floor = entry["project"][-1], entry["floor"][-1]
                        log(
                            f"scale {key} round {round_number + 1}: project {last_project['rps']:.0f} req/s "
                            f"p99 {ms(last_project['p99_us'])} ms, floor {last_floor['rps']:.0f} req/s"
                        )
            context["scale"] = scale
        try:  # the optional parts: a failure here must not lose the report of the rest
            if "profile" in parts:
                context["profiles"] = {}
                for script in ("list", "detail"):
                    result = profile(args, project, script, users)
                    if result:
                        context["profiles"][script] = result
                        shutil.copy(result["raw"], BENCH / "results" / f"profile-{script}.raw.txt")
            if args.sweep:
                project.stop()
                context["sweep"] = sweep(args, env, workdir, users)
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            log(f"profile or sweep failed: {error!r}")
    finally:
        project.stop()
        floor_server.stop()
    context["server_errors"] = {
        server.name: sum('"level":"ERROR"' in line or "Traceback" in line for line in server.log_path.open())
        for server in (project, floor_server)
    }
    context["machine"]["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    context["machine"]["total run time"] = f"{time.perf_counter() - started:.0f} s"
    report = write_report(args, env, context)
    log(f"report: {report} (server logs in {workdir})")
    return 0


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


def write_docs(context: dict) -> None:
    from bench import serialization

    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    machine_line = (
        f"Measured on {context['machine']['cores']} cores ({context['machine']['CPU']}), "
        f"PostgreSQL {context['versions']['PostgreSQL'].split()[0]}, "
        f"{datetime.now(UTC):%Y-%m-%d}; the machine is shared, so absolute times are noisy.\n\n"
    )
    (docs / "EXPLAIN.md").write_text(
        EXPLAIN_INTRO + machine_line + context["explain"].replace("### ", "## ") + "\n"
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
    return f"{model} x {found.get('threads', '?')} threads (gunicorn.conf.py), the same for project and floor"


if __name__ == "__main__":
    sys.exit(main())
