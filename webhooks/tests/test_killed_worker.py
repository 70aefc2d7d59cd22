"""A delivery worker killed (SIGKILL) mid-delivery: its message is delivered again by another,
with the same webhook-id, once the dead worker's lease has run out (API.md §9: at least once)."""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook

from core.tests.support import bearer_client
from tasks.tests.api_support import create_task
from webhooks import services
from webhooks.models import WebhookMessage
from webhooks.tests.support import create_webhook

ROOT = Path(__file__).resolve().parents[2]
WORKER = "import django; django.setup(); from webhooks import services; services.webhooks_deliver()"


def database_url() -> str:
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}/{db['NAME']}"


@pytest.mark.postgres_only
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the SQLite test database is in memory: no other process can open it",
)
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_process_message_is_redelivered_with_the_same_id(user, settings, receiver_factory):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    receiver = receiver_factory(hang=True)
    client = bearer_client(user)
    hook = create_webhook(client, user.pk, receiver.url, ["task.created"])
    create_task(client, user.pk, title="Survives a crash")
    assert services.webhooks_dispatch() == 1

    env = {**os.environ, "DATABASE_URL": database_url(), "WEBHOOK_ALLOW_PRIVATE": "true"}
    env["DJANGO_SECRET_KEY"] = settings.SECRET_KEY  # decrypts the stored secret as we do
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env)
    try:
        receiver.wait_for_hits(1, timeout=30)  # the worker is mid-delivery: the receiver holds it
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL
    message = WebhookMessage.objects.get()
    assert message.state == "pending" and message.attempts == 0  # nothing was recorded

    receiver.behaviour.hang = False
    # Within the dead worker's lease nobody sends it; after, it goes again.
    assert services.webhooks_deliver().delivered == 0
    report = services.webhooks_deliver(now=timezone.now() + services.lease() + timedelta(seconds=1))
    assert report.delivered == 1
    first, second = receiver.wait_for_hits(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == message.message_id
    assert first.body == second.body
    StandardWebhook(hook["secret"]).verify(second.body, second.headers)
    assert WebhookMessage.objects.get().state == "delivered"
