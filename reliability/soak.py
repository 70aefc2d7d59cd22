"""Load with faults: many users writing through gunicorn while PostgreSQL is restarted under it.

    .venv/bin/python -m reliability.soak --duration 300 --users 32     # `make soak`
    run_soak(SoakOptions(duration=35, users=12, ...))                   # CI (reliability/tests)

A throwaway PostgreSQL cluster (initdb on a free port, never the shared server), migrated, served by
the Procfile's gunicorn. Each virtual user is a thread with its own token and keep-alive connection
that creates (with an Idempotency-Key), renames, completes or reopens, and deletes its own tasks, and
reads its lists, for a fixed time. Every write is retried after a 503, a 409 or a lost answer until
it is acknowledged, exactly as a careful client would: creates with the same key, renames and
`{"completed": ...}` with the same body, deletes until 204 or 404. Meanwhile PostgreSQL is stopped
(immediate mode: a crash, as far as the server can tell) and started again.

Afterwards, read straight from the database: every acknowledged create exists exactly once with the
id it was acknowledged with, and each intended create exists exactly once; deleted tasks are gone;
nothing else exists; each task carries its last acknowledged title and state and a version of 1 +
its acknowledged changing writes; per-user counts agree with the API's stats. During the outage the
server answered 503 (never 500), and the same gunicorn processes served again afterwards.
"""

import argparse
import contextlib
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from reliability.live import Answer, KeepAliveClient, bearer_for, send_and_drop, worker_pids  # noqa: E402
from todo_project.tests.deploy_support import (  # noqa: E402
    gunicorn,
    manage,
    postgres_cluster,
    production_env,
    wait_until,
)

RESULTS = BASE_DIR / "reliability" / "results" / "SOAK.md"
TAGS = ["home", "work", "errands", "Urgent", "later"]


@dataclass
class SoakOptions:
    duration: float = 60.0  # seconds of load
    users: int = 16
    outages: list[tuple[float, float]] = field(default_factory=lambda: [(20.0, 8.0)])  # (start, length) s
    workers: int = 2
    threads: int = 4
    drain: float = 30.0  # seconds an unfinished write may keep retrying after the load stops
    lost_answers: float = 0.03  # share of writes whose first answer the client never reads
    seed: int = 0
    stop_mode: str = "immediate"


@dataclass
class TaskState:
    """What the client was told about one of its tasks."""

    key: str
    title: str
    completed: bool = False
    writes: int = 0  # acknowledged writes that changed something
    pending: bool = False  # a write that was never acknowledged (it may or may not have happened)


class Ledger:
    """Everything every user was told, and every answer, with the time it arrived."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: list[tuple[float, float, int, str, str]] = []  # started, finished, status, op, error
        self.failures: list[str] = []
        self.dropped: Counter = Counter()  # first attempts whose answer was deliberately never read

    def record(self, answer: Answer, op: str) -> None:
        self.answers.append((answer.started, answer.finished, answer.status, op, answer.error))

    def fail(self, message: str) -> None:
        with self.lock:
            if len(self.failures) < 200:
                self.failures.append(message)


class VirtualUser(threading.Thread):
    """One person with one keep-alive connection, doing one thing at a time until the deadline."""

    def __init__(self, index: int, port: int, secret: str, ledger: Ledger, options: SoakOptions, run_id: str):
        super().__init__(name=f"soak-user-{index}", daemon=True)
        self.user_id = f"soak-{run_id}-{index:03d}"
        self.headers = bearer_for(secret, self.user_id, lifetime=24 * 3600)
        self.client = KeepAliveClient(port)
        self.ledger = ledger
        self.rng = random.Random(options.seed * 1000 + index)  # noqa: S311 (a reproducible mix, not a secret)
        self.lost_answers = options.lost_answers
        self.tasks: dict[int, TaskState] = {}
        self.created: dict[str, int | None] = {}  # Idempotency-Key -> acknowledged id (None: never)
        self.deleted: set[int] = set()
        self.deadline = 0.0
        self.give_up_at = 0.0
        self.counter = 0
        self.replayed = 0  # creates whose retry got the stored answer: an earlier attempt had committed
        self.late_deletes = 0  # deletes whose retry found the task gone: an earlier attempt had deleted it

    # -- The operations --------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            while time.monotonic() < self.deadline:
                self.step()
        except Exception as error:  # a bug in the harness must show, not silently stop one user
            self.ledger.fail(f"{self.user_id}: harness error {type(error).__name__}: {error}")
        finally:
            self.client.close()

    def step(self) -> None:
        roll = self.rng.random()
        live = [task_id for task_id in self.tasks if task_id not in self.deleted]
        if not live or roll < 0.35:
            self.create()
        elif roll < 0.60:
            self.rename(self.rng.choice(live))
        elif roll < 0.75:
            self.set_completed(self.rng.choice(live))
        elif roll < 0.85:
            self.delete(self.rng.choice(live))
        else:
            self.read()

    def url(self, *parts: object) -> str:
        return "/".join([f"/api/{self.user_id}/tasks", *(str(part) for part in parts)]) + "/"

    def until_acknowledged(self, op: str, method: str, path: str, body=None, headers=None, ok=(200,)):
        """Send until an answer in `ok`; None if we gave up. Now and then the first attempt's answer
        is lost on purpose (sent, never read), so that the retry meets work already done."""
        attempts = 0
        if self.rng.random() < self.lost_answers:
            send_and_drop(self.client.port, method, path, body, {**self.headers, **(headers or {})})
            self.ledger.dropped[op] += 1
            attempts = 1
            time.sleep(self.rng.uniform(0.0, 0.3))
        while True:
            attempts += 1
            answer = self.client.request(method, path, body, {**self.headers, **(headers or {})})
            self.ledger.record(answer, op)
            if answer.status in ok:
                return answer, attempts
            if answer.status >= 500 and answer.status != 503:  # a server error: the test fails, we retry
                self.ledger.fail(f"{op} {path}: {answer.status} {answer.body[:200]!r}")
            elif answer.status not in (0, 409, 503):  # a 4xx we did not expect: a bug, do not insist
                self.ledger.fail(f"{op} {path}: unexpected {answer.status} {answer.body[:200]!r}")
                return None, attempts
            if time.monotonic() > self.give_up_at:
                return None, attempts
            # A 503 says Retry-After: 5; a short pause keeps this test's timeline fine-grained.
            time.sleep(0.1 if answer.status == 409 else 0.25)

    def create(self) -> None:
        self.counter += 1
        key = f"{self.user_id}-{self.counter}"
        body = {
            "title": f"{key} v0",
            "description": key,
            "tags": [self.rng.choice(TAGS)],
            "priority": self.rng.choice(["none", "low", "medium", "high"]),
        }
        self.created[key] = None
        answer, _ = self.until_acknowledged(
            "create", "POST", self.url(), body, {"Idempotency-Key": key}, ok=(201,)
        )
        if answer is None:
            return
        task = answer.json()
        if task["description"] != key or task["version"] != 1:
            self.ledger.fail(f"create {key}: acknowledged with {task}")
        self.created[key] = task["id"]
        self.replayed += answer.headers.get("idempotent-replayed") == "true"
        self.tasks[task["id"]] = TaskState(key=key, title=body["title"])

    def rename(self, task_id: int) -> None:
        state = self.tasks[task_id]
        title = f"{state.key} v{state.writes + 1}"
        answer, _ = self.until_acknowledged("rename", "PATCH", self.url(task_id), {"title": title})
        self._written(task_id, answer, title=title)

    def set_completed(self, task_id: int) -> None:
        state = self.tasks[task_id]
        completed = not state.completed
        answer, _ = self.until_acknowledged(
            "complete", "PATCH", self.url(task_id, "complete"), {"completed": completed}
        )
        self._written(task_id, answer, completed=completed)

    def _written(self, task_id: int, answer: Answer | None, **changes) -> None:
        state = self.tasks[task_id]
        if answer is None:
            state.pending = True
            return
        state.writes += 1
        for name, value in changes.items():
            setattr(state, name, value)
        task = answer.json()
        # A retried write whose first attempt did land changes nothing the second time, so the
        # version is the same either way: one more than before this write.
        if task["version"] != 1 + state.writes or task["title"] != state.title:
            self.ledger.fail(
                f"write to {state.key}: expected v{1 + state.writes} {state.title!r}, got {task}"
            )

    def delete(self, task_id: int) -> None:
        answer, attempts = self.until_acknowledged("delete", "DELETE", self.url(task_id), ok=(204, 404))
        if answer is None:
            self.tasks[task_id].pending = True
            return
        if answer.status == 404 and attempts == 1:
            self.ledger.fail(f"delete {self.tasks[task_id].key}: 404 on the first attempt")
        self.late_deletes += answer.status == 404
        self.deleted.add(task_id)

    def read(self) -> None:
        path = self.url() + "?limit=50" if self.rng.random() < 0.7 else self.url("stats")
        answer = self.client.request("GET", path, headers=self.headers)
        self.ledger.record(answer, "read")
        if answer.status == 500 or answer.status not in (0, 200, 503):
            self.ledger.fail(f"read {path}: {answer.status} {answer.body[:200]!r}")


@dataclass
class Outage:
    started: float
    stopped_in: float = 0.0  # seconds pg_ctl stop took
    restarted: float = 0.0  # when PostgreSQL accepted connections again


@dataclass
class SoakReport:
    options: SoakOptions
    failures: list[str]
    statuses: Counter
    statuses_during_outages: Counter
    transport_errors: int
    writes: Counter  # acknowledged, per operation
    created: int
    deleted: int
    live_tasks: int
    unacknowledged: int
    retried_ops: int
    replayed_creates: int
    late_deletes: int
    dropped: Counter
    outages: list[dict]
    requests: int
    elapsed: float
    per_user_counts_checked: int
    gunicorn_pids_unchanged: bool

    @property
    def ok(self) -> bool:
        return not self.failures


def _outage_controller(cluster, options: SoakOptions, t0: float, log: list[Outage], ledger: Ledger) -> None:
    try:
        for start, length in options.outages:
            time.sleep(max(0.0, t0 + start - time.monotonic()))
            outage = Outage(started=time.monotonic())
            cluster.stop(options.stop_mode)
            outage.stopped_in = time.monotonic() - outage.started
            time.sleep(max(0.0, outage.started + length - time.monotonic()))
            cluster.start()
            outage.restarted = time.monotonic()
            log.append(outage)
    except Exception as error:
        ledger.fail(f"restarting PostgreSQL failed: {error}")


def _verify(cluster, database: str, users: list[VirtualUser], ledger: Ledger) -> int:
    """Compare what the database holds with what the users were told; returns users checked."""
    with cluster.admin_connect(database) as connection:
        rows = connection.execute(
            "SELECT id, user_id, title, description, completed, version FROM tasks_task"
        ).fetchall()
        keys = connection.execute("SELECT user_id, key, status_code FROM tasks_idempotencykey").fetchall()
    by_description = Counter(row[3] for row in rows)
    for description, count in by_description.items():
        if count > 1:
            ledger.fail(f"create {description} exists {count} times")
    rows_by_id = {row[0]: row for row in rows}
    keys_by_user: dict[str, set[str]] = {}
    for user_id, key, status in keys:
        keys_by_user.setdefault(user_id, set()).add(key)
        if status != 201:
            ledger.fail(f"idempotency key {key} stored with status {status}")

    for user in users:
        expected_ids = set()
        for key, task_id in user.created.items():
            if task_id is None:  # never acknowledged: may exist, at most once (checked above)
                continue
            if key not in keys_by_user.get(user.user_id, set()):
                ledger.fail(f"acknowledged create {key} has no stored idempotent response")
            state = user.tasks[task_id]
            row = rows_by_id.get(task_id)
            if task_id in user.deleted:
                if row is not None:
                    ledger.fail(f"deleted task {key} (id {task_id}) still exists")
                continue
            if state.pending and row is None:
                continue  # an unacknowledged delete may have happened
            expected_ids.add(task_id)
            if row is None:
                ledger.fail(f"acknowledged task {key} (id {task_id}) is missing")
                continue
            _, owner, title, description, completed, version = row
            if owner != user.user_id or description != key:
                ledger.fail(f"task {task_id} is {owner}/{description}, acknowledged as {user.user_id}/{key}")
            if state.pending:  # one write in doubt: either outcome, but nothing else
                if version not in (1 + state.writes, 2 + state.writes):
                    ledger.fail(f"task {key}: version {version}, expected {1 + state.writes} or one more")
                continue
            if (title, completed, version) != (state.title, state.completed, 1 + state.writes):
                ledger.fail(
                    f"task {key}: database has {title!r} completed={completed} v{version}, acknowledged "
                    f"{state.title!r} completed={state.completed} v{1 + state.writes}"
                )
        unknown_keys = {key for key, task_id in user.created.items() if task_id is None}
        for row in rows:
            if row[1] == user.user_id and row[0] not in expected_ids:
                pending_delete = row[0] in user.tasks and user.tasks[row[0]].pending
                if row[3] not in unknown_keys and not pending_delete:
                    ledger.fail(f"task {row[0]} ({row[3]}) exists but {user.user_id} was never told so")
    return len(users)


def _check_counts_through_the_api(
    port: int, users: list[VirtualUser], ledger: Ledger, database_counts
) -> None:
    client = KeepAliveClient(port)
    try:
        for user in users:
            answer = client.request("GET", f"/api/{user.user_id}/tasks/stats/", headers=user.headers)
            if answer.status != 200:
                ledger.fail(f"stats for {user.user_id} after the run: {answer.status} {answer.error}")
                continue
            total = answer.json()["total"]
            if total != database_counts.get(user.user_id, 0):
                ledger.fail(
                    f"{user.user_id}: stats say {total}, database has {database_counts.get(user.user_id)}"
                )
            sure = {i for i, s in user.tasks.items() if i not in user.deleted and not s.pending}
            if total < len(sure):
                ledger.fail(f"{user.user_id}: {total} tasks, but {len(sure)} were acknowledged and kept")
    finally:
        client.close()


def run_soak(options: SoakOptions, directory: Path) -> SoakReport:
    """Run the soak in `directory` (server logs, the cluster) and return what it found."""
    ledger = Ledger()
    run_id = secrets.token_hex(3)
    outage_log: list[Outage] = []
    with postgres_cluster(settings={"max_connections": "100"}) as cluster:
        with cluster.admin_connect() as admin:
            admin.execute("CREATE DATABASE soak_todo")
        env = production_env(
            DATABASE_URL=cluster.url("soak_todo"),
            DB_CONNECT_TIMEOUT="2",
            API_RATE_LIMIT_USER="off",
            GUNICORN_WORKERS=str(options.workers),
            GUNICORN_THREADS=str(options.threads),
        )
        migrated = manage("migrate", "--noinput", "-v0", env=env, timeout=300)
        assert migrated.returncode == 0, migrated.stderr[-3000:]

        with gunicorn(env, directory, name="soak") as server:
            master = server.process.pid
            workers_before = worker_pids(master)
            users = [
                VirtualUser(index, server.port, env["BETTER_AUTH_SECRET"], ledger, options, run_id)
                for index in range(options.users)
            ]
            t0 = time.monotonic()
            for user in users:
                user.deadline = t0 + options.duration
                user.give_up_at = t0 + options.duration + options.drain
            controller = threading.Thread(
                target=_outage_controller, args=(cluster, options, t0, outage_log, ledger), daemon=True
            )
            controller.start()
            for user in users:
                user.start()
            for user in users:
                user.join(timeout=max(1.0, user.give_up_at - time.monotonic()) + 30)
                if user.is_alive():
                    ledger.fail(f"{user.user_id} was still running after the drain period")
            controller.join(timeout=60)
            if not cluster.is_running():
                cluster.start()
            elapsed = time.monotonic() - t0

            # The same processes must be serving: ready again without any restart.
            wait_until(
                lambda: server.request("GET", "/readyz", timeout=5).status == 200,
                timeout=30,
                message="readiness after the soak",
            )
            workers_after = worker_pids(master)
            unchanged = server.process.poll() is None and workers_after == workers_before
            if not unchanged:
                ledger.fail(
                    f"gunicorn was restarted: workers {sorted(workers_before)} -> {sorted(workers_after)}"
                )

            checked = _verify(cluster, "soak_todo", users, ledger)
            with cluster.admin_connect("soak_todo") as connection:
                counts = dict(connection.execute("SELECT user_id, count(*) FROM tasks_task GROUP BY user_id"))
            _check_counts_through_the_api(server.port, users, ledger, counts)
            if "Traceback" in server.log():
                ledger.fail("the server logged a traceback")

    return _report(options, ledger, users, outage_log, t0, elapsed, checked, unchanged)


def _report(options, ledger, users, outage_log, t0, elapsed, checked, unchanged) -> SoakReport:
    statuses: Counter = Counter()
    during: Counter = Counter()
    writes: Counter = Counter()
    transport = 0
    windows = [(o.started, o.restarted) for o in outage_log]
    for started, finished, status, op, _ in ledger.answers:
        statuses[status] += 1
        transport += status == 0
        if any(begin <= finished and started <= end for begin, end in windows):
            during[status] += 1
        if (op != "read" and 200 <= status < 300) or (op == "delete" and status == 404):
            writes[op] += 1
    outages = []
    for outage in outage_log:
        after = sorted(
            finished
            for started, finished, status, op, _ in ledger.answers
            if op != "read" and 200 <= status < 300 and started >= outage.restarted
        )
        last_ok_before = max(
            (f for s, f, status, op, _ in ledger.answers if 200 <= status < 300 and f <= outage.started),
            default=outage.started,
        )
        first_503 = min(
            (f for s, f, status, op, _ in ledger.answers if status == 503 and f >= outage.started),
            default=None,
        )
        outages.append(
            {
                "at": round(outage.started - t0, 1),
                "length": round(outage.restarted - outage.started, 1),
                "first_503_after": None if first_503 is None else round(first_503 - outage.started, 2),
                "recovery": None if not after else round(after[0] - outage.restarted, 2),
                "writes_blocked_for": None if not after else round(after[0] - last_ok_before, 2),
            }
        )
        if first_503 is None:
            ledger.fail(f"no 503 was answered during the outage at {outages[-1]['at']} s")
        if not after:
            ledger.fail(f"no write succeeded after the outage at {outages[-1]['at']} s")
    if statuses[500]:
        ledger.fail(f"{statuses[500]} answers were 500")
    created = sum(1 for user in users for task_id in user.created.values() if task_id is not None)
    unacknowledged = sum(1 for user in users for task_id in user.created.values() if task_id is None)
    unacknowledged += sum(1 for user in users for state in user.tasks.values() if state.pending)
    deleted = sum(len(user.deleted) for user in users)
    live = sum(1 for user in users for task_id in user.tasks if task_id not in user.deleted)
    requests = len(ledger.answers)
    acknowledged_ops = sum(writes.values())
    write_requests = sum(1 for answer in ledger.answers if answer[3] != "read")
    return SoakReport(
        options=options,
        failures=list(ledger.failures),
        statuses=statuses,
        statuses_during_outages=during,
        transport_errors=transport,
        writes=writes,
        created=created,
        deleted=deleted,
        live_tasks=live,
        unacknowledged=unacknowledged,
        retried_ops=write_requests - acknowledged_ops,
        replayed_creates=sum(user.replayed for user in users),
        late_deletes=sum(user.late_deletes for user in users),
        dropped=ledger.dropped,
        outages=outages,
        requests=requests,
        elapsed=elapsed,
        per_user_counts_checked=checked,
        gunicorn_pids_unchanged=unchanged,
    )


def render(report: SoakReport, *, command: str) -> str:
    o = report.options
    lines = [
        "# Soak: load with PostgreSQL restarts",
        "",
        f"Last run: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, `{command}`.",
        f"Result: **{'PASS' if report.ok else 'FAIL'}**.",
        "",
        "## Set-up",
        "",
        f"- {o.users} users (threads, one keep-alive connection and one token each) for "
        f"{o.duration:.0f} s of load, then up to {o.drain:.0f} s for unfinished writes to be acknowledged.",
        f"- gunicorn (Procfile `web`): {o.workers} workers x {o.threads} threads, on a throwaway PostgreSQL "
        f"cluster; `DB_CONNECT_TIMEOUT=2`, rate limits off.",
        f"- PostgreSQL stopped (`pg_ctl -m {o.stop_mode}`) and started again: "
        + ", ".join(f"at {start:.0f} s for {length:.0f} s" for start, length in o.outages)
        + ".",
        '- Mix: 35% create (Idempotency-Key), 25% rename, 15% complete/reopen (`{"completed": x}`), '
        "10% delete, 15% list or stats. Writes are retried after 503, 409 or a lost answer until "
        f"acknowledged; {o.lost_answers:.0%} of writes have their first answer dropped unread by the "
        "client on purpose (the server did the work, the client cannot know).",
        "",
        "## Counts",
        "",
        "| what | count |",
        "|---|---|",
        f"| requests answered or failed | {report.requests} (in {report.elapsed:.0f} s) |",
        f"| creates acknowledged | {report.created} |",
        f"| renames / completes acknowledged | {report.writes['rename']} / {report.writes['complete']} |",
        f"| deletes acknowledged | {report.deleted} |",
        f"| tasks left, all checked against the database | {report.live_tasks} |",
        f"| write attempts that were retried | {report.retried_ops} |",
        "| writes whose first answer the client dropped unread (create / rename / complete / delete) | "
        f"{report.dropped['create']} / {report.dropped['rename']} / {report.dropped['complete']} / "
        f"{report.dropped['delete']} |",
        f"| creates whose retry was answered from the stored response (an earlier attempt had "
        f"committed) | {report.replayed_creates} |",
        f"| deletes whose retry found the task already gone | {report.late_deletes} |",
        f"| writes never acknowledged (gave up) | {report.unacknowledged} |",
        f"| users whose tasks and counts were checked | {report.per_user_counts_checked} |",
        f"| transport errors (connection reset, timeout) | {report.transport_errors} |",
        "",
        "Statuses over the whole run: "
        + ", ".join(f"{status or 'no answer'}: {count}" for status, count in sorted(report.statuses.items()))
        + ".",
        "",
        "Statuses of requests in flight during an outage: "
        + ", ".join(
            f"{status or 'no answer'}: {count}"
            for status, count in sorted(report.statuses_during_outages.items())
        )
        + ".",
        "",
        "## Outages and recovery",
        "",
        "| outage at | length | first 503 after stop | recovery (first acknowledged write after "
        "PostgreSQL was back) | writes blocked for |",
        "|---|---|---|---|---|",
    ]
    for outage in report.outages:
        lines.append(
            f"| {outage['at']} s | {outage['length']} s | {outage['first_503_after']} s | "
            f"{outage['recovery']} s | {outage['writes_blocked_for']} s |"
        )
    lines += [
        "",
        "Same gunicorn master and workers before and after: "
        f"{'yes' if report.gunicorn_pids_unchanged else 'NO'}.",
        "",
        "## Failures",
        "",
    ]
    lines += [f"- {failure}" for failure in report.failures] or ["None."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--outage",
        action="append",
        default=None,
        metavar="START:LENGTH",
        help="restart PostgreSQL at START s for LENGTH s (repeatable; default 90:15 and 200:5)",
    )
    parser.add_argument("--stop-mode", default="immediate", choices=["smart", "fast", "immediate"])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    outages = [tuple(float(part) for part in spec.split(":")) for spec in (args.outage or ["90:15", "200:5"])]
    options = SoakOptions(
        duration=args.duration,
        users=args.users,
        workers=args.workers,
        threads=args.threads,
        outages=outages,
        seed=args.seed if args.seed is not None else secrets.randbelow(1_000_000),
        stop_mode=args.stop_mode,
    )
    directory = Path(tempfile.mkdtemp(prefix="todo-soak-"))
    try:
        report = run_soak(options, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    text = render(report, command="make soak " + " ".join(argv if argv is not None else sys.argv[1:]))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    print(text)
    return 0 if report.ok else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
