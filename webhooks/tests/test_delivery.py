"""Delivering messages to a real receiver on 127.0.0.1 (API.md §9, docs/WEBHOOKS.md): signatures
checked with the standardwebhooks package, retries, backoff, giving up, disabling, redirects, big
and slow answers, leases. Time is driven through the services' `now`, never slept."""

import itertools
import threading
from datetime import timedelta

import orjson
import pytest
from django.db import connections
from django.utils import timezone
from standardwebhooks import Webhook as StandardWebhook

from core.tests.support import bearer_client
from tasks.tests.api_support import postgres_only
from webhooks import services
from webhooks.models import Webhook, WebhookAttempt, WebhookMessage
from webhooks.tests.receiver import closed_port_url
from webhooks.tests.support import create_webhook, webhooks_url


def make_hook(client, user, url, events=None):
    return create_webhook(
        client,
        user.pk,
        url,
        events or ["task.created", "task.updated", "task.completed", "task.deleted", "reminder.due"],
    )


def enqueue(user, source="t:1", event="task.created", data=None, at=None):
    return services.messages_enqueue(
        user_id=user.pk,
        event=event,
        data=data if data is not None else {"id": 1, "title": "Buy milk"},
        occurred_at=at or timezone.now(),
        source=source,
    )


def verify(secret, hit):
    """What a receiver does: check the signature with the standardwebhooks package."""
    return StandardWebhook(secret).verify(hit.body, hit.headers)


def attempts(webhook_id):
    return list(WebhookAttempt.objects.filter(webhook_id=webhook_id).order_by("id"))


def test_a_message_is_posted_signed_as_standard_webhooks(auth_client, user, allow_private, receiver):
    hook = make_hook(auth_client, user, receiver.url)
    occurred = timezone.now()
    enqueue(user, data={"id": 7, "title": "Buy milk"}, at=occurred)
    report = services.webhooks_deliver()
    assert report.delivered == 1
    [hit] = receiver.hits
    payload = verify(hook["secret"], hit)
    assert payload == {
        "type": "task.created",
        "timestamp": occurred.isoformat().replace("+00:00", "Z"),
        "data": {"id": 7, "title": "Buy milk"},
    }
    assert hit.headers["webhook-id"].startswith("msg_")
    assert hit.headers["content-type"] == "application/json"
    assert int(hit.headers["webhook-timestamp"]) == pytest.approx(timezone.now().timestamp(), abs=5)
    assert WebhookMessage.objects.get().state == "delivered"


def test_a_wrong_secret_does_not_verify(auth_client, user, allow_private, receiver):
    make_hook(auth_client, user, receiver.url)
    other = make_hook(auth_client, user, "http://127.0.0.1:9/unused")
    enqueue(user)
    Webhook.objects.filter(pk=other["id"]).delete()
    services.webhooks_deliver()
    from standardwebhooks.webhooks import WebhookVerificationError

    with pytest.raises(WebhookVerificationError):
        verify(other["secret"], receiver.hits[0])


def test_only_subscribed_events_are_sent(auth_client, user, allow_private, receiver):
    make_hook(auth_client, user, receiver.url, ["task.deleted"])
    assert enqueue(user, event="task.created") == 0
    assert enqueue(user, source="t:2", event="task.deleted", data={"id": 1}) == 1
    services.webhooks_deliver()
    assert [orjson.loads(hit.body)["type"] for hit in receiver.hits] == ["task.deleted"]


def test_another_users_events_are_not_sent(auth_client, user, other_user, allow_private, receiver):
    make_hook(auth_client, user, receiver.url)
    enqueue(other_user)
    assert services.webhooks_deliver().delivered == 0
    assert receiver.hits == []


def test_the_same_source_is_one_message(auth_client, user, allow_private, receiver):
    make_hook(auth_client, user, receiver.url)
    enqueue(user, source="event:5")
    enqueue(user, source="event:5")
    services.webhooks_deliver()
    assert len(receiver.hits) == 1


def test_messages_go_out_in_order(auth_client, user, allow_private, receiver):
    make_hook(auth_client, user, receiver.url)
    for number in range(5):
        enqueue(user, source=f"t:{number}", data={"id": number})
    services.webhooks_deliver()
    assert [orjson.loads(hit.body)["data"]["id"] for hit in receiver.hits] == [0, 1, 2, 3, 4]


def test_failure_is_retried_with_the_same_webhook_id_and_body(
    auth_client, user, allow_private, receiver_factory
):
    receiver = receiver_factory(status=500)
    hook = make_hook(auth_client, user, receiver.url)
    enqueue(user)
    now = timezone.now()
    assert services.webhooks_deliver(now=now).failed == 1
    # Not due again before its backoff.
    assert services.webhooks_deliver(now=now + timedelta(seconds=3)).failed == 0
    receiver.behaviour.status = 200
    assert services.webhooks_deliver(now=now + timedelta(seconds=60)).delivered == 1
    first, second = receiver.hits
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    verify(hook["secret"], second)
    assert [(a.attempt, a.status_code) for a in attempts(hook["id"])] == [(1, 500), (2, 200)]


def test_backoff_schedule_then_given_up(auth_client, user, allow_private, receiver_factory):
    receiver = receiver_factory(status=503)
    hook = make_hook(auth_client, user, receiver.url)
    start = timezone.now()
    enqueue(user, at=start)
    now = start
    times = []
    while True:
        report = services.webhooks_deliver(now=now)
        if report.failed:
            times.append(now - start)
        message = WebhookMessage.objects.get()
        if message.state != "pending":
            break
        # Just before it is due nothing is sent; at its time it is.
        assert services.webhooks_deliver(now=message.next_attempt_at - timedelta(seconds=1)).failed == 0
        now = message.next_attempt_at
    assert message.state == "failed"
    assert message.attempts == services.MAX_ATTEMPTS >= 6  # the first try and at least 5 more
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    for gap, delay in zip(gaps, services.RETRY_DELAYS, strict=True):
        assert delay <= gap < delay + timedelta(seconds=30)  # plus the real time each run took
    assert list(services.RETRY_DELAYS) == sorted(services.RETRY_DELAYS)  # growing
    assert times[-1] >= timedelta(hours=1)
    assert len(receiver.hits) == services.MAX_ATTEMPTS
    assert len({hit.headers["webhook-id"] for hit in receiver.hits}) == 1
    # Given up: never sent again.
    assert services.webhooks_deliver(now=now + timedelta(days=3)).failed == 0
    assert [a.attempt for a in attempts(hook["id"])] == list(range(1, services.MAX_ATTEMPTS + 1))


def test_an_endpoint_failing_for_24_hours_is_disabled(auth_client, user, allow_private, receiver_factory):
    receiver = receiver_factory(status=500)
    hook = make_hook(auth_client, user, receiver.url)
    start = timezone.now()
    # A new event every 4 hours, each failing: the endpoint fails every attempt for a day.
    now = start
    for hour in range(0, 33, 4):
        now = start + timedelta(hours=hour)
        enqueue(user, source=f"t:{hour}", at=now)
        services.webhooks_deliver(now=now)
        if Webhook.objects.get(pk=hook["id"]).disabled_at:
            break
    webhook = Webhook.objects.get(pk=hook["id"])
    assert webhook.disabled_at is not None
    assert webhook.disabled_at - start >= timedelta(hours=24)
    assert webhook.failing_since == start or webhook.failing_since - start < timedelta(seconds=5)
    assert not WebhookMessage.objects.filter(state="pending").exists()
    listed = auth_client.get(webhooks_url(user.pk)).json()
    assert listed[0]["disabled_at"] is not None
    # Nothing more is sent or queued for it.
    hits = len(receiver.hits)
    assert enqueue(user, source="t:late", at=now) == 0
    services.webhooks_deliver(now=now + timedelta(days=2))
    assert len(receiver.hits) == hits


def test_a_success_resets_the_failing_clock(auth_client, user, allow_private, receiver_factory):
    receiver = receiver_factory(status=500)
    hook = make_hook(auth_client, user, receiver.url)
    start = timezone.now()
    enqueue(user, source="a", at=start)
    services.webhooks_deliver(now=start)
    assert Webhook.objects.get(pk=hook["id"]).failing_since is not None
    receiver.behaviour.status = 204
    services.webhooks_deliver(now=start + timedelta(hours=20))
    assert Webhook.objects.get(pk=hook["id"]).failing_since is None
    receiver.behaviour.status = 500
    enqueue(user, source="b", at=start + timedelta(hours=25))
    services.webhooks_deliver(now=start + timedelta(hours=25))
    assert Webhook.objects.get(pk=hook["id"]).disabled_at is None


def test_a_closed_port_is_a_failed_attempt(auth_client, user, allow_private):
    hook = make_hook(auth_client, user, closed_port_url())
    enqueue(user)
    assert services.webhooks_deliver().failed == 1
    [attempt] = attempts(hook["id"])
    assert attempt.status_code is None and attempt.error
    assert WebhookMessage.objects.get().state == "pending"


def test_no_answer_within_the_timeout_is_a_failure(auth_client, user, allow_private, receiver_factory):
    receiver = receiver_factory(hang=True)
    hook = make_hook(auth_client, user, receiver.url)
    enqueue(user)
    report = services.webhooks_deliver(timeout=0.5)
    assert report.failed == 1
    [attempt] = attempts(hook["id"])
    assert attempt.status_code is None and "0.5 s" in attempt.error
    assert len(receiver.hits) == 1


def test_the_default_timeout_is_5_seconds():
    assert services.DELIVERY_TIMEOUT == 5.0


def test_redirects_are_not_followed(auth_client, user, allow_private, receiver_factory):
    target = receiver_factory()
    redirector = receiver_factory(status=302, location=target.url)
    hook = make_hook(auth_client, user, redirector.url)
    enqueue(user)
    assert services.webhooks_deliver().failed == 1
    assert len(redirector.hits) == 1 and target.hits == []
    [attempt] = attempts(hook["id"])
    assert attempt.status_code == 302 and "redirect" in attempt.error


def test_a_huge_answer_is_not_read_past_the_cap(auth_client, user, allow_private, receiver_factory):
    size = 200 * 1024 * 1024
    receiver = receiver_factory(body_bytes=size)
    make_hook(auth_client, user, receiver.url)
    enqueue(user)
    assert services.webhooks_deliver().delivered == 1
    deadline = timezone.now() + timedelta(seconds=10)
    while not receiver.behaviour.sent:
        assert timezone.now() < deadline
        threading.Event().wait(0.01)
    # The server could write only what the socket buffers hold before we hung up.
    assert receiver.behaviour.sent[0] < 32 * 1024 * 1024


def test_deliveries_route_shows_attempts_newest_first(auth_client, user, allow_private, receiver_factory):
    receiver = receiver_factory(status=500)
    hook = make_hook(auth_client, user, receiver.url)
    enqueue(user, event="task.updated")
    now = timezone.now()
    services.webhooks_deliver(now=now)
    receiver.behaviour.status = 200
    services.webhooks_deliver(now=now + timedelta(seconds=60))
    body = auth_client.get(webhooks_url(user.pk, hook["id"], "deliveries")).json()
    message_id = receiver.hits[0].headers["webhook-id"]
    assert [(d["message_id"], d["event"], d["attempt"], d["status_code"]) for d in body] == [
        (message_id, "task.updated", 2, 200),
        (message_id, "task.updated", 1, 500),
    ]
    assert body[0]["error"] == "" and body[1]["error"] == "HTTP 500"
    assert set(body[0]) == {"message_id", "event", "attempt", "status_code", "error", "at"}
    # Another user sees none of it.
    assert bearer_client(user).get(webhooks_url(user.pk, hook["id"], "deliveries")).status_code == 200


def test_deliveries_route_shows_the_last_100(auth_client, user, allow_private, receiver):
    hook = make_hook(auth_client, user, receiver.url)
    now = timezone.now()
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(
            webhook_id=hook["id"],
            message_id=f"msg_{n}",
            event="task.created",
            attempt=1,
            status_code=200,
            at=now + timedelta(seconds=n),
        )
        for n in range(150)
    )
    body = auth_client.get(webhooks_url(user.pk, hook["id"], "deliveries")).json()
    assert [d["message_id"] for d in body] == [f"msg_{n}" for n in range(149, 49, -1)]


def test_a_killed_workers_message_is_redelivered_with_the_same_id(auth_client, user, allow_private, receiver):
    """A worker that claimed the endpoint and died holds it only until its lease runs out."""
    make_hook(auth_client, user, receiver.url)
    enqueue(user)
    now = timezone.now()
    webhook_id = WebhookMessage.objects.get().webhook_id
    # The dead worker: claimed, sent, and never recorded anything.
    assert services.webhook_claim(webhook_id=webhook_id, now=now) is not None
    message = WebhookMessage.objects.get()
    secret = services.decrypt_secret(Webhook.objects.get().secret_encrypted)
    import httpx

    with httpx.Client() as client:
        services.send(client, url=receiver.url, secret=secret, message=message, timeout=5)
    # While the lease holds, no one else sends it.
    assert services.webhooks_deliver(now=now + services.lease() - timedelta(seconds=1)).delivered == 0
    assert services.webhooks_deliver(now=now + services.lease() + timedelta(seconds=1)).delivered == 1
    first, second = receiver.hits
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


@postgres_only  # SQLite's in-memory test database locks whole tables between threads
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_one_message_twice(user, allow_private, receiver_factory):
    receiver = receiver_factory()
    secret_holder = make_hook(bearer_client(user), user, receiver.url)
    for number in range(20):
        enqueue(user, source=f"t:{number}", data={"id": number})
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            reports.append(services.webhooks_deliver(max_messages=50))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    ids = [hit.headers["webhook-id"] for hit in receiver.hits]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert sum(report.delivered for report in reports) == 20
    assert [orjson.loads(hit.body)["data"]["id"] for hit in receiver.hits] == list(range(20))
    verify(secret_holder["secret"], receiver.hits[0])


def test_a_down_endpoint_costs_one_attempt_per_run(auth_client, user, allow_private, receiver_factory):
    receiver = receiver_factory(status=500)
    make_hook(auth_client, user, receiver.url)
    for number in range(5):
        enqueue(user, source=f"t:{number}")
    report = services.webhooks_deliver()
    assert (report.failed, report.delivered) == (1, 0)
    assert len(receiver.hits) == 1


def test_a_backlog_is_left_for_the_next_run(auth_client, user, allow_private, receiver):
    make_hook(auth_client, user, receiver.url)
    for number in range(5):
        enqueue(user, source=f"t:{number}", data={"id": number})
    first = services.webhooks_deliver(max_messages=2)
    assert first.delivered == 2 and first.more
    while services.webhooks_deliver(max_messages=2).more:
        pass
    assert [orjson.loads(hit.body)["data"]["id"] for hit in receiver.hits] == [0, 1, 2, 3, 4]
    assert not services.webhooks_deliver().more
