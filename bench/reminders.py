"""10,000 reminders falling due in the same second: two real Celery workers (Redis broker,
PostgreSQL) push them to a local push service; how long from due to all sent?

    .venv/bin/python bench/reminders.py            # writes bench/results/REMINDERS.md
    make bench-reminders

It makes its own database (`todo_push_bench` by default, dropped and migrated), a VAPID key, 10,000
users each with one subscription and one task with one reminder, all firing at the same instant T a
little ahead. The push service is a threaded HTTP server in this process that answers 201, counts
messages per subscription and decrypts one in 50 (checking the payload). The scheduler is
emulated here: `notifications.scan_due_reminders` is published every 15 seconds, the first tick
just before T, so the first scan that finds the reminders comes 15 s after they fell due (the worst
phase of a real beat). Measured: T to the last `sent_at` in the database, and to the last push
received.
"""

import argparse
import base64
import json
import os
import platform
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")
VENV_BIN = Path(sys.executable).parent
SCAN_PERIOD = 15.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class PushService:
    """Answers 201 to every POST, remembers when and for whom, decrypts every `sample`-th body."""

    def __init__(self, browser_key, auth_secret: bytes, sample: int = 50):
        import http_ece

        self.counts: Counter = Counter()
        self.times: list[float] = []
        self.samples: list[dict] = []
        self.errors: list[str] = []
        lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    service.counts[self.path] += 1
                    service.times.append(time.time())
                    n = len(service.times)
                if n % sample == 0:
                    try:
                        plain = http_ece.decrypt(
                            body, private_key=browser_key, auth_secret=auth_secret, version="aes128gcm"
                        )
                        with lock:
                            service.samples.append({"path": self.path, "payload": json.loads(plain)})
                    except Exception as exc:  # reported in the results
                        with lock:
                            service.errors.append(repr(exc))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def run(command: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--concurrency", type=int, default=2, help="Processes per worker (the Procfile's default)."
    )
    parser.add_argument("--database", default="todo_push_bench")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--lead-seconds", type=float, default=25.0, help="From seeding to T.")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "REMINDERS.md"))
    args = parser.parse_args()

    database_url = f"{args.postgres}/{args.database}"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from notifications.vapid import generate_private_key

    vapid_private, _ = generate_private_key()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": "bench-only-" + secrets.token_hex(16),
        "BETTER_AUTH_SECRET": "bench-only-" + secrets.token_hex(16),
        "DJANGO_DEBUG": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": args.redis,
        "CELERY_QUEUE": f"bench-{secrets.token_hex(4)}",
        "WEBPUSH_VAPID_PRIVATE_KEY": vapid_private,
        "WEBPUSH_VAPID_SUBJECT": "mailto:bench@example.com",
        "WEBPUSH_ALLOW_HTTP": "true",
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    }
    os.environ.update(env)

    log(f"fresh database {args.database}")
    admin_url = f"{args.postgres}/postgres"
    run(["psql", admin_url, "-qc", f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'], env)
    run(["psql", admin_url, "-qc", f'CREATE DATABASE "{args.database}"'], env)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env, timeout=300)

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from notifications.models import PushSubscription
    from tasks.models import Reminder, ReminderState, Task

    browser_key = ec.generate_private_key(ec.SECP256R1())
    auth_secret = secrets.token_bytes(16)
    p256dh = b64url(
        browser_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    service = PushService(browser_key, auth_secret)

    n = args.reminders
    log(f"seeding {n:,} users, subscriptions, tasks and reminders")
    users = User.objects.bulk_create(
        [User(id=f"bench{i}", email=f"bench{i}@example.com", password="!") for i in range(n)], batch_size=2000
    )
    PushSubscription.objects.bulk_create(
        [
            PushSubscription(
                user=user,
                endpoint=f"{service.origin}/push/{user.pk}",
                p256dh=p256dh,
                auth=b64url(auth_secret),
            )
            for user in users
        ],
        batch_size=2000,
    )
    fire_at = (timezone.now() + timedelta(seconds=args.lead_seconds)).replace(microsecond=0)
    tasks = Task.objects.bulk_create(
        [
            Task(user=user, title=f"Reminder bench {i}", due_date=fire_at + timedelta(hours=1))
            for i, user in enumerate(users)
        ],
        batch_size=2000,
    )
    Reminder.objects.bulk_create(
        [
            Reminder(task=task, user_id=task.user_id, position=0, at=fire_at, fire_at=fire_at)
            for task in tasks
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    setup_cpu = before.ru_utime + before.ru_stime  # psql and migrate
    log(f"starting {args.workers} workers (concurrency {args.concurrency} each)")
    workers = []
    logs = []
    for w in range(args.workers):
        log_path = Path(f"/tmp/bench-reminders-worker{w}.log")
        logs.append(log_path)
        log_file = open(log_path, "w")  # noqa: SIM115 - kept open for the process's life
        workers.append(
            subprocess.Popen(
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "todo_project",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    str(args.concurrency),
                    "-n",
                    f"bench{w}@%h",
                    "-Q",
                    env["CELERY_QUEUE"],
                ],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    try:
        deadline = time.monotonic() + 120
        while not all(" ready." in p.read_text(errors="replace") for p in logs):
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise SystemExit("workers did not start:\n" + "\n".join(p.read_text()[-2000:] for p in logs))
            time.sleep(0.2)

        from notifications.tasks import scan_due_reminders

        t = fire_at.timestamp()
        own_setup = resource.getrusage(resource.RUSAGE_SELF)
        own_setup_cpu = own_setup.ru_utime + own_setup.ru_stime
        # The emulated beat: a tick just before T (finds nothing), then every 15 s.
        tick = t - 0.05
        log(f"T = {fire_at:%H:%M:%S}Z; waiting for it")
        ticks = []
        while True:
            now = time.time()
            if now >= tick:
                scan_due_reminders.apply_async(queue=env["CELERY_QUEUE"])
                ticks.append(now)
                tick += SCAN_PERIOD
            sent = Reminder.objects.filter(state=ReminderState.SENT).count()
            if sent >= n or now > t + 180:
                break
            time.sleep(0.25)
        done = time.time()
        sent_times = [
            value.timestamp()
            for value in Reminder.objects.filter(state=ReminderState.SENT).values_list("sent_at", flat=True)
        ]
        states = Counter(Reminder.objects.values_list("state", flat=True))
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    # CPU seconds: the workers (their pool processes included) and this process (the push service,
    # the emulated beat and the polling).
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)

    first_scan_after_due = min(tick for tick in ticks if tick >= t - 0.06)
    received = sum(service.counts.values())
    duplicates = sum(count - 1 for count in service.counts.values() if count > 1)
    latencies = sorted(sent - t for sent in sent_times)
    ok_samples = all(
        sample["payload"]["type"] == "reminder"
        and sample["payload"]["fire_at"] == fire_at.isoformat().replace("+00:00", "Z")
        for sample in service.samples
    )
    result = {
        "reminders": n,
        "sent": states.get("sent", 0),
        "states": dict(states),
        "received": received,
        "duplicates": duplicates,
        "samples_decrypted": len(service.samples),
        "samples_ok": ok_samples and not service.errors,
        "first_scan_after_due_s": round(first_scan_after_due - t, 2),
        "due_to_all_sent_s": round(latencies[-1], 2) if latencies else None,
        "scan_to_all_sent_s": round(latencies[-1] - (first_scan_after_due - t), 2) if latencies else None,
        "due_to_last_push_received_s": round(max(service.times) - t, 2) if service.times else None,
        "median_due_to_sent_s": round(statistics.median(latencies), 2) if latencies else None,
        "pushes_per_second": round(received / max(0.001, max(service.times) - min(service.times)), 1)
        if service.times
        else None,
        "waited_s": round(done - t, 1),
        "worker_cpu_s": round(children.ru_utime + children.ru_stime - setup_cpu, 1),
        "push_service_cpu_s": round(own.ru_utime + own.ru_stime - own_setup_cpu, 1),
    }
    log(json.dumps(result, indent=2))
    write_results(Path(args.out), args, result)


def write_results(path: Path, args, result: dict) -> None:
    cores = os.cpu_count()
    load = os.getloadavg()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    samples = f"{result['samples_decrypted']} samples, " + (
        "all correct" if result["samples_ok"] else "ERRORS"
    )
    within = (result["due_to_all_sent_s"] or 999) <= 60 and result["sent"] == result["reminders"]
    text = f"""# Reminders: 10,000 falling due in the same second

Command: `make bench-reminders` (`.venv/bin/python bench/reminders.py`),
{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.

Setup: {result["reminders"]:,} users, each with one push subscription and one task whose reminder
fires at the same instant T; {args.workers} Celery workers (`--concurrency {args.concurrency}` each,
8 pushes in flight per process), Redis broker, PostgreSQL {pg.split()[0]}, a local push service
(Python threads, answering 201, decrypting one message in 50). The scan is published every
{SCAN_PERIOD:.0f} s (emulating beat) from just before T; the first scan to find the reminders ran
{result["first_scan_after_due_s"]} s after T. A real beat's phase is arbitrary: add up to 15 s for the
worst case. Machine: {cores} cores
({platform.processor() or platform.machine()}), shared with other work (load average at the end
{load[0]:.1f}).

| measure | value |
|---|---|
| reminders sent | {result["sent"]:,} of {result["reminders"]:,} (states: {result["states"]}) |
| pushes received | {result["received"]:,}, duplicates {result["duplicates"]} |
| decrypted samples | {samples} |
| **T to the last `sent_at`** | **{result["due_to_all_sent_s"]} s** |
| first scan after T to the last `sent_at` | {result["scan_to_all_sent_s"]} s |
| T to the last push received | {result["due_to_last_push_received_s"]} s |
| median T to `sent_at` | {result["median_due_to_sent_s"]} s |
| pushes per second (receiver) | {result["pushes_per_second"]} |
| CPU: the workers (start-up included) | {result["worker_cpu_s"]} s |
| CPU: the push service and the bench process | {result["push_service_cpu_s"]} s |

Within the contract's 60 seconds: {"yes" if within else "NO"}.
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    log(f"wrote {path}")


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


if __name__ == "__main__":
    main()
