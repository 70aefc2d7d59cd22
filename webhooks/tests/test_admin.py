"""The webhook admin through admin_client: no secret anywhere, deliveries per webhook, disabled
state, bounded queries whatever the table size."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from core.tests.support import bearer_client
from tasks.models import TaskEvent
from tasks.tests.api_support import create_task
from webhooks.models import Webhook, WebhookAttempt
from webhooks.tests.support import create_webhook

WEBHOOKS = "/admin/webhooks/webhook/"
ATTEMPTS = "/admin/webhooks/webhookattempt/"
MAX_LIST_QUERIES = 8


@pytest.fixture
def hooks(db, allow_private):
    """Three users' webhooks, one disabled, with a few attempts; and the secrets given out."""
    secrets = []
    for n in range(3):
        owner = UserFactory()
        body = create_webhook(
            bearer_client(owner), owner.pk, f"https://hooks{n}.example.com/x", ["task.created"]
        )
        secrets.append(body["secret"])
        for attempt in range(3):
            WebhookAttempt.objects.create(
                webhook_id=body["id"],
                message_id=f"msg_{n}_{attempt}",
                event="task.created",
                attempt=attempt + 1,
                status_code=500,
                error="HTTP 500",
            )
    Webhook.objects.filter(url__contains="hooks2").update(disabled_at=timezone.now())
    return secrets


def test_changelist_shows_webhooks_without_secrets(admin_client, hooks, django_assert_max_num_queries):
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        response = admin_client.get(WEBHOOKS)
    assert response.status_code == 200
    page = response.content.decode()
    assert "hooks0.example.com" in page and "hooks2.example.com" in page
    for secret in hooks:
        assert secret not in page and secret[6:20] not in page
    assert "secret" not in page.lower()


def test_change_page_shows_no_secret_and_cannot_edit(admin_client, hooks):
    webhook = Webhook.objects.first()
    response = admin_client.get(f"{WEBHOOKS}{webhook.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert webhook.secret_encrypted not in page
    assert all(secret not in page for secret in hooks)
    assert 'name="url"' not in page  # read-only
    response = admin_client.post(f"{WEBHOOKS}{webhook.pk}/change/", {"url": "https://evil.example.com/"})
    assert response.status_code == 403
    assert Webhook.objects.get(pk=webhook.pk).url == webhook.url


def test_webhooks_cannot_be_added_in_the_admin(admin_client, hooks):
    assert admin_client.get(f"{WEBHOOKS}add/").status_code == 403


def test_disabled_filter(admin_client, hooks):
    page = admin_client.get(WEBHOOKS, {"state": "disabled"}).content.decode()
    assert "hooks2.example.com" in page and "hooks0.example.com" not in page
    page = admin_client.get(WEBHOOKS, {"state": "active"}).content.decode()
    assert "hooks2.example.com" not in page and "hooks0.example.com" in page


def test_search_by_user_id(admin_client, hooks):
    webhook = Webhook.objects.select_related("user").first()
    page = admin_client.get(WEBHOOKS, {"q": webhook.user_id}).content.decode()
    assert webhook.url in page
    others = Webhook.objects.exclude(pk=webhook.pk).values_list("url", flat=True)
    assert not any(url in page for url in others)


def test_recent_deliveries_of_one_webhook(admin_client, hooks, django_assert_max_num_queries):
    webhook = Webhook.objects.first()
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        response = admin_client.get(ATTEMPTS, {"webhook__id__exact": webhook.pk})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("msg_") >= 3
    ids = set(WebhookAttempt.objects.exclude(webhook=webhook).values_list("message_id", flat=True))
    assert not any(f">{message_id}<" in page for message_id in ids)


def test_enable_action_turns_a_disabled_webhook_back_on(admin_client, hooks):
    disabled = Webhook.objects.get(disabled_at__isnull=False)
    response = admin_client.post(WEBHOOKS, {"action": "enable_webhooks", "_selected_action": [disabled.pk]})
    assert response.status_code == 302
    assert Webhook.objects.get(pk=disabled.pk).disabled_at is None
    # Its owner's writes are recorded again.
    create_task(bearer_client(disabled.user), disabled.user_id)
    assert TaskEvent.objects.filter(user_id=disabled.user_id).exists()


def test_deleting_in_the_admin_stops_recording(admin_client, hooks):
    webhook = Webhook.objects.filter(disabled_at__isnull=True).select_related("user").first()
    response = admin_client.post(f"{WEBHOOKS}{webhook.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Webhook.objects.filter(pk=webhook.pk).exists()
    create_task(bearer_client(webhook.user), webhook.user_id)
    assert not TaskEvent.objects.filter(user_id=webhook.user_id).exists()


def test_attempts_log_is_read_only(admin_client, hooks):
    attempt = WebhookAttempt.objects.first()
    assert admin_client.get(f"{ATTEMPTS}add/").status_code == 403
    assert admin_client.post(f"{ATTEMPTS}{attempt.pk}/delete/", {"post": "yes"}).status_code == 403


def test_many_attempts_page_in_bounded_queries(admin_client, hooks, django_assert_max_num_queries):
    webhook = Webhook.objects.first()
    now = timezone.now()
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(
            webhook=webhook,
            message_id=f"msg_bulk_{n}",
            event="task.created",
            attempt=1,
            status_code=200,
            at=now - timedelta(seconds=n),
        )
        for n in range(2000)
    )
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        response = admin_client.get(ATTEMPTS)
    assert response.status_code == 200
