"""The Procfile's real Celery worker delivers webhooks; killed (SIGKILL, whole process group) while
a delivery is in flight, the message is delivered again by the next worker with the same
webhook-id, once the dead worker's lease has run out."""

import os
import signal
import sqlite3

import pytest
from standardwebhooks import Webhook as StandardWebhook

from todo_project.tests.deploy_support import celery_worker, manage, wait_until, worker_env

pytestmark = pytest.mark.slow

SETUP = """
from accounts.models import User
from tasks.services import task_create
from webhooks.services import webhook_create
user = User.objects.create_user(id="hook-user", email="h@example.com")
webhook, secret = webhook_create(user=user, url={url!r}, events=["task.created"])
task_create(user=user, title="Delivered though a worker dies")
print("SECRET=" + secret)
"""
DISPATCH = "from webhooks.tasks import dispatch; dispatch.delay()"
DELIVER = "from webhooks.tasks import deliver; deliver.delay()"


def shell(env: dict[str, str], code: str) -> str:
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def message_states(env: dict[str, str]) -> list[tuple[str, int]]:
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return list(connection.execute("SELECT state, attempts FROM webhooks_webhookmessage"))


def test_a_killed_celery_worker_message_is_redelivered_with_the_same_id(tmp_path, receiver_factory):
    receiver = receiver_factory(hang=True)  # holds the first delivery open: the worker is mid-send
    env = worker_env(tmp_path, WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_LEASE_SECONDS="3")
    output = shell(env, SETUP.format(url=receiver.url))
    secret = next(line for line in output.splitlines() if line.startswith("SECRET="))[len("SECRET=") :]

    with celery_worker(env, tmp_path, name="first") as first:
        shell(env, DISPATCH)
        receiver.wait_for_hits(1, timeout=60)
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
    assert message_states(env) == [("pending", 0)]  # nothing recorded: it died mid-delivery

    receiver.behaviour.hang = False
    with celery_worker(env, tmp_path, name="second"):

        def redelivered() -> bool:
            if len(receiver.hits) < 2:
                shell(env, DELIVER)  # what beat does every few seconds
            return len(receiver.hits) >= 2 and message_states(env) == [("delivered", 1)]

        wait_until(redelivered, timeout=90, interval=1, message="the message delivered again")
    first_hit, second_hit = receiver.hits[:2]
    assert first_hit.headers["webhook-id"] == second_hit.headers["webhook-id"]
    assert first_hit.body == second_hit.body
    payload = StandardWebhook(secret).verify(second_hit.body, second_hit.headers)
    assert payload["type"] == "task.created"
    assert payload["data"]["title"] == "Delivered though a worker dies"
