"""Races that only PostgreSQL runs truly in parallel: the per-user limit under concurrent creates,
and two dispatchers over one outbox."""

import pytest

from core.tests.support import bearer_client
from tasks.models import TaskEvent
from tasks.tests.api_support import create_task, postgres_only, run_concurrently
from webhooks import services
from webhooks.models import Webhook, WebhookMessage
from webhooks.tests.support import create_webhook, webhooks_url


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_pass_the_limit(user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    client = bearer_client(user)
    for _ in range(8):
        create_webhook(client, user.pk, "https://hooks.example.com/x")

    def create():
        return (
            bearer_client(user)
            .post(
                webhooks_url(user.pk),
                {"url": "https://hooks.example.com/x", "events": ["task.created"]},
                format="json",
            )
            .status_code
        )

    statuses = run_concurrently(*[create for _ in range(4)])
    assert sorted(statuses) == [201, 201, 400, 400]
    assert Webhook.objects.filter(user=user).count() == 10


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_make_each_message_once(user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    client = bearer_client(user)
    create_webhook(client, user.pk, "https://hooks.example.com/x", ["task.created"])
    for number in range(300):
        create_task(client, user.pk, title=f"Task {number}")

    def dispatch():
        total = 0
        while (count := services.webhooks_dispatch(batch=20)) > 0:
            total += count
        return total

    counts = run_concurrently(dispatch, dispatch)
    assert sum(counts) == 300
    assert WebhookMessage.objects.count() == 300
    assert not TaskEvent.objects.filter(dispatched_at__isnull=True).exists()
