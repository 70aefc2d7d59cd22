"""A real `celery worker` delivers a due reminder end to end (Redis broker when the suite runs on
PostgreSQL, the embedded transport on SQLite), and a worker killed with SIGKILL mid-delivery loses
nothing: the next scan after its lease takes the reminder again. The scans are published here,
as beat would publish them."""

import json
import os
import signal
import sqlite3
import threading

import pytest
from django.db import connection

from notifications.tests.support import expected_payload_dict
from todo_project.tests.deploy_support import celery_worker, manage, wait_until, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REDIS_BROKER = "redis://127.0.0.1:6379/5"

SEED = """
import json
from datetime import timedelta
from django.utils import timezone
from accounts.models import User
from notifications.services import push_subscription_save
from tasks.models import Reminder, Task
user = User.objects.create(id="worker-push-user", email="w@example.com")
push_subscription_save(user=user, endpoint={endpoint!r}, p256dh={p256dh!r}, auth={auth!r})
fire_at = timezone.now() - timedelta(seconds=1)
task = Task.objects.create(user=user, title="Worker reminder", due_date=fire_at + timedelta(hours=1))
reminder = Reminder.objects.create(task=task, user=user, position=0, at=fire_at, fire_at=fire_at)
print(json.dumps({{"id": reminder.pk, "task": task.pk, "due_date": task.due_date.isoformat(),
                  "fire_at": reminder.fire_at.isoformat()}}))
"""

SCAN = "from notifications.tasks import scan_due_reminders; scan_due_reminders.delay()"


def postgres_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def env(tmp_path, push_service, settings):
    """The worker's environment: this suite's PostgreSQL database and Redis, or a SQLite file and
    the embedded broker; the test's VAPID key; short leases so that a dead worker's claim lapses soon."""
    if connection.vendor == "postgresql":
        environment = worker_env(tmp_path, broker=REDIS_BROKER)
        environment["DATABASE_URL"] = postgres_url()
    else:
        environment = worker_env(tmp_path)
    environment.update(
        WEBPUSH_VAPID_PRIVATE_KEY=settings.WEBPUSH_VAPID_PRIVATE_KEY,
        WEBPUSH_VAPID_SUBJECT=settings.WEBPUSH_VAPID_SUBJECT,
        WEBPUSH_ALLOW_HTTP="true",
        REMINDER_LEASE_SECONDS="3",
    )
    return environment


def shell(env: dict, code: str) -> str:
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def seed(env: dict, browser) -> dict:
    out = shell(env, SEED.format(endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth))
    return json.loads(out.strip().splitlines()[-1])


def reminder_state(env: dict, reminder_id: int) -> tuple[str, str | None]:
    if env["DATABASE_URL"].startswith("sqlite"):
        path = env["DATABASE_URL"].removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            return db.execute(
                "SELECT state, sent_at FROM tasks_reminder WHERE id = ?", [reminder_id]
            ).fetchone()
    with connection.cursor() as cursor:
        cursor.execute("SELECT state, sent_at FROM tasks_reminder WHERE id = %s", [reminder_id])
        return cursor.fetchone()


class Beat:
    """Publishes the scan over and over (as beat does every 15 s, faster here) until stopped."""

    def __init__(self, env: dict):
        self.env = env
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stopped.is_set():
            manage("shell", "-c", SCAN, env=self.env)
            self.stopped.wait(1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=60)


def test_a_worker_delivers_a_due_reminder(env, tmp_path, push_service):
    browser = push_service.browser("worker")
    seeded = seed(env, browser)

    with celery_worker(env, tmp_path), Beat(env):
        wait_until(
            lambda: reminder_state(env, seeded["id"])[0] == "sent", timeout=90, message="reminder sent"
        )

    assert push_service.received["worker"] == [expected_payload_dict(seeded, "Worker reminder")]
    assert push_service.requests["worker"] == 1


def test_a_worker_killed_mid_delivery_loses_nothing(env, tmp_path, push_service):
    browser = push_service.browser("worker")
    release = push_service.hold("worker")
    seeded = seed(env, browser)

    with celery_worker(env, tmp_path, name="doomed") as doomed, Beat(env):
        wait_until(lambda: push_service.requests["worker"] >= 1, timeout=90, message="the push under way")
        os.killpg(doomed.process.pid, signal.SIGKILL)
        doomed.process.wait(timeout=30)
        release.set()  # the push service answers a worker that is gone
        assert reminder_state(env, seeded["id"])[0] == "pending"

        with celery_worker(env, tmp_path, name="successor"):
            wait_until(
                lambda: reminder_state(env, seeded["id"])[0] == "sent",
                timeout=90,
                message="reminder sent again",
            )

    # Pushed again after the crash (the first answer never reached a worker): the contract's
    # "give or take a retry after a crash", never lost.
    assert push_service.requests["worker"] == 2
    assert push_service.received["worker"] == [expected_payload_dict(seeded, "Worker reminder")] * 2
