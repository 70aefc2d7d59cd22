"""The Procfile's worker: a real Celery worker process runs what the web process publishes, on the
embedded broker (`make run`, no server) and on Redis (production), writes JSON log lines carrying the
task's id, and survives a poison message."""

import base64
import json
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from todo_project.tests.deploy_support import celery_worker, manage, wait_until, worker_env

pytestmark = pytest.mark.slow

REDIS_BROKER = "redis://127.0.0.1:6379/7"

EXPIRED_KEY = """
from datetime import timedelta
from django.utils import timezone
from accounts.models import User
from tasks.models import IdempotencyKey
user = User.objects.create(id="worker-user", email="w@example.com")
old = timezone.now() - timedelta(days=2)
IdempotencyKey.objects.create(user=user, key="old", fingerprint="f", created_at=old)
IdempotencyKey.objects.create(user=user, key="fresh", fingerprint="f")
"""

PUBLISH = "from tasks.tasks import purge_idempotency_keys; purge_idempotency_keys.delay()"


def database_path(env: dict[str, str]) -> Path:
    return Path(env["DATABASE_URL"].removeprefix("sqlite:///"))


def stored_keys(env: dict[str, str]) -> list[str]:
    with sqlite3.connect(database_path(env)) as connection:
        return sorted(row[0] for row in connection.execute("SELECT key FROM tasks_idempotencykey"))


def shell(env: dict[str, str], code: str) -> None:
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr


def redis_available() -> bool:
    try:
        return redis.Redis.from_url(REDIS_BROKER, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


BROKERS = [
    pytest.param("embedded", id="embedded"),
    pytest.param(
        REDIS_BROKER,
        id="redis",
        marks=pytest.mark.skipif(not redis_available(), reason="needs Redis at 127.0.0.1:6379"),
    ),
]


@pytest.mark.parametrize("broker", BROKERS)
def test_a_worker_runs_what_the_web_process_publishes(tmp_path, broker):
    env = worker_env(tmp_path, broker=broker)
    shell(env, EXPIRED_KEY)

    with celery_worker(env, tmp_path) as worker:
        shell(env, PUBLISH)
        wait_until(lambda: stored_keys(env) == ["fresh"], timeout=60, message="the expired key purged")

        done = wait_until(
            lambda: [e for e in worker.log_entries() if "succeeded" in e.get("message", "")],
            timeout=30,
            message="the task's success logged",
        )
    assert done[0]["task_name"] == "tasks.purge_idempotency_keys"
    assert done[0]["task_id"] in done[0]["message"]
    assert done[0]["level"] == "INFO"


def envelope(task: str, body: bytes) -> bytes:
    """A message as kombu puts it on a Redis list, with `body` as its (undecoded) payload."""
    return json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py",
                "task": task,
                "id": secrets.token_hex(8),
                "argsrepr": "",
                "kwargsrepr": "",
            },
            "properties": {
                "correlation_id": secrets.token_hex(8),
                "body_encoding": "base64",
                "delivery_info": {"exchange": "", "routing_key": "celery"},
                "delivery_mode": 2,
                "delivery_tag": secrets.token_hex(8),
                "priority": 0,
            },
        }
    ).encode()


def worker_errors(worker) -> list[dict]:
    return [e for e in worker.log_entries() if e["level"] in {"ERROR", "CRITICAL"}]


def test_poison_messages_do_not_block_the_queue(tmp_path):
    """An undecodable body, an unknown task and a task called with the wrong arguments are each
    logged as an error and dropped; the task queued behind them runs, and the worker stays up."""
    if not redis_available():
        pytest.skip("needs Redis at 127.0.0.1:6379")
    env = worker_env(tmp_path, broker=REDIS_BROKER)
    shell(env, EXPIRED_KEY)
    queue = env["CELERY_QUEUE"]
    client = redis.Redis.from_url(REDIS_BROKER)
    try:
        # LPUSH + BRPOP: the first pushed is the first consumed.
        client.lpush(queue, envelope("tasks.purge_idempotency_keys", b"\xff not json {"))
        client.lpush(queue, envelope("no.such.task", b"[[], {}, {}]"))
        shell(
            env,
            "from todo_project.celery import app\n"
            "app.send_task('tasks.purge_idempotency_keys', args=['unexpected', 'arguments'])\n" + PUBLISH,
        )
        with celery_worker(env, tmp_path) as worker:
            wait_until(lambda: stored_keys(env) == ["fresh"], timeout=60, message="the good task run")
            assert worker.process.poll() is None
            wait_until(lambda: len(worker_errors(worker)) >= 3, timeout=30, message="every poison logged")
        messages = [e["message"] for e in worker_errors(worker)]
        assert any(m.startswith("Can't decode message body") for m in messages)
        assert any("unregistered task of type 'no.such.task'" in m for m in messages)
        assert any("takes 0 positional arguments" in m for m in messages)
    finally:
        client.delete(queue)


def test_publishing_while_the_broker_is_down_fails_fast_and_is_logged(tmp_path):
    """A write that wakes a worker must not fail or hang when the broker is unreachable."""
    env = worker_env(tmp_path, broker="redis://127.0.0.1:1/0")
    code = (
        "import time\n"
        "from core.queue import enqueue\n"
        "from tasks.tasks import purge_idempotency_keys\n"
        "started = time.monotonic()\n"
        "results = [enqueue(purge_idempotency_keys) for _ in range(20)]\n"
        "print(results.count(True), round(time.monotonic() - started, 1))\n"
    )
    result = manage("shell", "-c", code, env=env)

    assert result.returncode == 0, result.stderr
    published, seconds = result.stdout.splitlines()[-1].split()
    assert published == "0"
    assert float(seconds) < 10  # one failed attempt, then skipped: not 20 connection timeouts
    assert "Could not publish tasks.purge_idempotency_keys" in result.stdout + result.stderr


def test_the_beat_schedule_names_tasks_a_worker_has():
    from django.conf import settings

    from todo_project.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry


def test_expired_keys_are_purged_by_the_scheduled_task(db):
    from accounts.models import User
    from tasks.models import IdempotencyKey
    from tasks.tasks import purge_idempotency_keys

    user = User.objects.create(id="u-beat", email="b@example.com")
    old = IdempotencyKey.objects.create(user=user, key="old", fingerprint="f")
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=datetime.now(UTC) - timedelta(hours=25))
    IdempotencyKey.objects.create(user=user, key="new", fingerprint="f")

    assert purge_idempotency_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
