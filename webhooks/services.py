"""Every write of webhooks: creating and deleting endpoints, turning events into messages, and
delivering due messages (docs/WEBHOOKS.md).

Delivery is at least once: a message stays `pending` until an attempt's outcome is recorded, and a
worker holds an endpoint only for a lease, so a killed worker's message is sent again, with the
same `webhook-id`, once the lease runs out. Functions that schedule take `now` so that tests (and
operators) drive time without sleeping.
"""

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from core.formats import ORJSONRenderer
from webhooks import rules, selectors
from webhooks.addresses import AddressRefused, GuardedTransport, clean_webhook_url
from webhooks.models import Webhook, WebhookAttempt, WebhookMessage
from webhooks.signing import decrypt_secret, encrypt_secret, new_secret, sign

logger = logging.getLogger(__name__)

# After the n-th failed attempt the next waits RETRY_DELAYS[n - 1]; after the last, the message is
# given up: 8 attempts over about 27.5 hours (Standard Webhooks' reference schedule).
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# An endpoint whose every attempt failed for this long is disabled.
DISABLE_AFTER = timedelta(hours=24)
# A 2xx within this many seconds is success; slower is failure.
DELIVERY_TIMEOUT = 5.0
# Response bodies are read up to this many bytes, then the connection is dropped.
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "todo-webhooks/1 (+https://www.standardwebhooks.com/)"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def lease() -> timedelta:
    """How long a worker holds an endpoint without renewing (WEBHOOK_LEASE_SECONDS)."""
    return timedelta(seconds=max(getattr(settings, "WEBHOOK_LEASE_SECONDS", 30), 1))


def allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE", False))


def new_message_id() -> str:
    """`msg_` + a ULID (48 bits of milliseconds, 80 random bits): unique and sortable by time."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "msg_" + "".join(reversed(chars))


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- Endpoints ----------------------------------------------------------------------------------
@transaction.atomic
def webhook_create(*, user: User, url: object, events: object) -> tuple[Webhook, str]:
    """A new endpoint and its signing secret (returned once, stored encrypted).

    Raises ValidationError keyed `url`, `events`, or `non_field_errors` past MAX_WEBHOOKS_PER_USER.
    """
    errors: dict[str, list[str]] = {}
    clean_url = clean_events_list = None
    try:
        clean_url = clean_webhook_url(url, allow_private=allow_private())
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        clean_events_list = rules.clean_events(events)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    # Lock the owner so that two concurrent creates cannot both see 9 and make 11.
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
    if Webhook.objects.owned_by(user).count() >= rules.MAX_WEBHOOKS_PER_USER:
        raise ValidationError(
            {
                "non_field_errors": [
                    f"At most {rules.MAX_WEBHOOKS_PER_USER} webhooks per user: delete one first."
                ]
            }
        )
    secret = new_secret()
    webhook = Webhook.objects.create(
        user=user, url=clean_url, events=clean_events_list, secret_encrypted=encrypt_secret(secret)
    )
    _events_switch(user_id=user.pk)
    return webhook, secret


@transaction.atomic
def webhook_delete(*, user: User, webhook_id: int) -> None:
    """Delete the caller's endpoint with its messages and attempts (404 for another user's)."""
    webhook = selectors.webhook_get(user=user, webhook_id=webhook_id)
    webhook.delete()
    _events_switch(user_id=user.pk)


def _events_switch(*, user_id: str) -> None:
    """Task events are recorded only for users with an active webhook (no cost for the others)."""
    from tasks.services import task_events_enable

    task_events_enable(user_id=user_id, enabled=Webhook.objects.filter(user_id=user_id).active().exists())


# --- Messages -----------------------------------------------------------------------------------
def messages_enqueue(
    *, user_id: str, event: str, data: dict[str, Any], occurred_at: datetime, source: str
) -> int:
    """Owe `event` to each of the user's active endpoints subscribed to it; returns how many.

    The body is built here, once: every attempt sends these bytes. `source` names what produced
    the event, so enqueuing it again (a retried worker) adds nothing.
    """
    webhooks = [
        webhook
        for webhook in Webhook.objects.filter(user_id=user_id).active().only("id", "events")
        if event in webhook.events
    ]
    if not webhooks:
        return 0
    # The task routes' renderer: the same JSON (dates in UTC with Z) as the API answers.
    body = ORJSONRenderer().render({"type": event, "timestamp": iso_utc(occurred_at), "data": data}).decode()
    WebhookMessage.objects.bulk_create(
        [
            WebhookMessage(
                webhook_id=webhook.pk,
                message_id=new_message_id(),
                event=event,
                source=source,
                body=body,
                created_at=occurred_at,
                next_attempt_at=occurred_at,
            )
            for webhook in webhooks
        ],
        ignore_conflicts=True,
    )
    return len(webhooks)


# --- The outbox ---------------------------------------------------------------------------------
def webhooks_dispatch(*, now: datetime | None = None, batch: int = 200) -> int:
    """Turn the task events the writes committed (tasks.TaskEvent, the outbox) into messages, and
    mark them dispatched, in one transaction: an event becomes messages exactly once. Returns how
    many events. Concurrent dispatchers skip each other's rows (SKIP LOCKED on PostgreSQL; SQLite
    has one writer at a time).

    `data` is the task as the task routes show it when dispatched (at least as new as the event;
    `version` orders them), `{"id"}` for a delete or a task gone since; `reminder.due` adds the
    reminder that fell due under `"reminder"`.
    """
    from tasks.models import TaskEvent

    now = now or timezone.now()
    with transaction.atomic():
        pending = TaskEvent.objects.filter(dispatched_at__isnull=True).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        events = list(pending[:batch])
        if not events:
            return 0
        for event in events:
            messages_enqueue(
                user_id=event.user_id,
                event=event.event,
                data=_event_data(event),
                occurred_at=event.created_at,
                source=f"event:{event.pk}",
            )
        TaskEvent.objects.filter(pk__in=[event.pk for event in events]).update(dispatched_at=now)
    return len(events)


def _event_data(event) -> dict[str, Any]:
    from tasks import sql

    if event.event == "task.deleted":
        return {"id": event.task_id}
    row = sql.task_row(user_id=event.user_id, task_id=event.task_id)
    if row is None:
        return {"id": event.task_id}  # deleted since: its task.deleted event follows
    data = sql.dialect().to_task(row)
    if event.event == "reminder.due":
        data["reminder"] = event.data
    return data


def reminder_due_publish(*, reminder) -> bool:
    """Owe `reminder.due` for `reminder` (a tasks.Reminder) to the user's subscribed webhooks.

    For the reminder worker: call it in the transaction that marks the reminder sent, so that the
    event exists exactly when the reminder is sent. Costs one query for a user without webhooks.
    Returns whether an event was recorded.
    """
    from tasks.services import task_event_record

    data = {
        "position": reminder.position,
        "fire_at": iso_utc(reminder.fire_at) if reminder.fire_at else None,
    }
    if reminder.before:
        data["before"] = reminder.before
    else:
        data["at"] = iso_utc(reminder.at) if reminder.at else None
    event = task_event_record(
        user_id=reminder.user_id, task_id=reminder.task_id, event="reminder.due", data=data
    )
    return event is not None


def webhooks_purge(*, now: datetime | None = None, keep: timedelta = timedelta(days=30)) -> int:
    """Delete what is no longer needed: dispatched outbox rows, finished messages and attempts older
    than `keep`. Returns how many rows in all."""
    from tasks.models import TaskEvent

    cutoff = (now or timezone.now()) - keep
    deleted = TaskEvent.objects.filter(dispatched_at__lt=cutoff).delete()[0]
    deleted += WebhookMessage.objects.filter(finished_at__lt=cutoff).delete()[0]
    deleted += WebhookAttempt.objects.filter(at__lt=cutoff).delete()[0]
    return deleted


# --- Delivery -----------------------------------------------------------------------------------
@dataclass
class Outcome:
    status_code: int | None
    error: str
    ok: bool


@dataclass
class DeliveryReport:
    """What one `webhooks_deliver` run did (for logs and tests)."""

    delivered: int = 0
    failed: int = 0
    given_up: int = 0
    disabled: list[int] = field(default_factory=list)
    more: bool = False


def _clock(now: datetime | None) -> Callable[[], datetime]:
    """`now` when given, advancing with the real time spent since: leases and attempt times stay
    consistent within a run whatever time the caller drives."""
    if now is None:
        return timezone.now
    start = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - start)


def webhooks_deliver(
    *,
    now: datetime | None = None,
    max_endpoints: int = 20,
    max_messages: int = 100,
    budget_seconds: float = 60.0,
    timeout: float = DELIVERY_TIMEOUT,
) -> DeliveryReport:
    """Send the messages that are due: for each endpoint free of any worker (claimed under a
    lease), its due messages oldest first, one at a time, until one fails (the endpoint is likely
    down: the rest wait for their turn rather than each costing a timeout now). Safe to run in any
    number of workers. `report.more` says work was left for another run (the budget or
    `max_messages` ran out)."""
    clock = _clock(now)
    deadline = time.monotonic() + budget_seconds
    report = DeliveryReport()
    endpoint_ids = selectors.webhooks_with_due_messages(now=clock(), limit=max_endpoints)
    if not endpoint_ids:
        return report
    report.more = len(endpoint_ids) == max_endpoints
    with httpx.Client(
        transport=GuardedTransport(allow_private=allow_private(), timeout=timeout),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
    ) as client:
        for webhook_id in endpoint_ids:
            if time.monotonic() > deadline:
                report.more = True
                break
            token = webhook_claim(webhook_id=webhook_id, now=clock())
            if token is None:
                continue  # another worker has it
            try:
                _deliver_endpoint(client, webhook_id, token, clock, report, max_messages, timeout, deadline)
            finally:
                Webhook.objects.filter(pk=webhook_id, lease_token=token).update(
                    lease_until=None, lease_token=""
                )
    return report


def webhook_claim(*, webhook_id: int, now: datetime) -> str | None:
    """Hold an endpoint for lease(): a conditional UPDATE, so of two workers exactly one wins (on
    PostgreSQL the second waits for the first's row lock, then finds the lease taken)."""
    token = secrets.token_hex(16)
    claimed = (
        Webhook.objects.filter(pk=webhook_id, disabled_at__isnull=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + lease(), lease_token=token)
    )
    return token if claimed else None


def _deliver_endpoint(client, webhook_id, token, clock, report, max_messages, timeout, deadline) -> None:
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        return
    secret = decrypt_secret(webhook.secret_encrypted)
    for sent in range(max_messages + 1):
        if sent == max_messages or time.monotonic() > deadline:
            report.more = True
            return
        now = clock()
        # Renew the lease before each send; lost (expired and taken over) means stop.
        renewed = Webhook.objects.filter(pk=webhook_id, lease_token=token, disabled_at__isnull=True).update(
            lease_until=now + lease()
        )
        if not renewed:
            return
        message = selectors.message_next_due(webhook_id=webhook_id, now=now)
        if message is None:
            return
        outcome = send(client, url=webhook.url, secret=secret, message=message, timeout=timeout)
        result = _record(webhook_id=webhook_id, message=message, outcome=outcome, at=clock())
        if outcome.ok:
            report.delivered += 1
        else:
            report.failed += 1
            report.given_up += result == "given_up"
            if result == "disabled":
                report.disabled.append(webhook_id)
            return


def send(client: httpx.Client, *, url: str, secret: str, message: WebhookMessage, timeout: float) -> Outcome:
    """One attempt: POST the message's body, signed for this moment; success is a 2xx within
    `timeout` seconds. Redirects are not followed; at most MAX_RESPONSE_BYTES of the answer is read."""
    body = message.body.encode()
    sent_at = datetime.now(UTC)  # the receiver checks this against its own clock: the real time
    headers = {
        "content-type": "application/json",
        "webhook-id": message.message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": sign(secret, message.message_id, sent_at, body),
    }
    started = time.monotonic()
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            status_code = response.status_code
            received = 0
            for chunk in response.iter_raw():
                received += len(chunk)
                if received >= MAX_RESPONSE_BYTES or time.monotonic() - started > timeout:
                    break  # leaving the block drops the connection: the rest is never read
    except AddressRefused as error:
        return Outcome(None, str(error)[:500], False)
    except httpx.TimeoutException:
        return Outcome(None, f"no answer within {timeout:g} s", False)
    except httpx.HTTPError as error:
        return Outcome(None, f"{type(error).__name__}: {error}"[:500] or type(error).__name__, False)
    if time.monotonic() - started > timeout:
        return Outcome(status_code, f"answered after more than {timeout:g} s", False)
    if 200 <= status_code < 300:
        return Outcome(status_code, "", True)
    if 300 <= status_code < 400:
        return Outcome(status_code, "redirect not followed", False)
    return Outcome(status_code, f"HTTP {status_code}", False)


@transaction.atomic
def _record(*, webhook_id: int, message: WebhookMessage, outcome: Outcome, at: datetime) -> str:
    """Log the attempt and move the message on: delivered, retried later, or given up; and the
    endpoint: healthy again, or disabled after DISABLE_AFTER of nothing but failures."""
    attempt = message.attempts + 1
    WebhookAttempt.objects.create(
        webhook_id=webhook_id,
        message_id=message.message_id,
        event=message.event,
        attempt=attempt,
        status_code=outcome.status_code,
        error=outcome.error,
        at=at,
    )
    pending = WebhookMessage.objects.filter(
        pk=message.pk, state=WebhookMessage.State.PENDING, attempts=message.attempts
    )
    if outcome.ok:
        pending.update(state=WebhookMessage.State.DELIVERED, attempts=attempt, finished_at=at)
        Webhook.objects.filter(pk=webhook_id, failing_since__isnull=False).update(failing_since=None)
        return "delivered"
    result = "retry"
    if attempt >= MAX_ATTEMPTS:
        pending.update(state=WebhookMessage.State.FAILED, attempts=attempt, finished_at=at)
        result = "given_up"
    else:
        pending.update(attempts=attempt, next_attempt_at=at + RETRY_DELAYS[attempt - 1])
    Webhook.objects.filter(pk=webhook_id, failing_since__isnull=True).update(failing_since=at)
    webhook = Webhook.objects.filter(pk=webhook_id).only("user_id", "failing_since", "disabled_at").first()
    if webhook and webhook.disabled_at is None and at - webhook.failing_since >= DISABLE_AFTER:
        webhook_disable(webhook=webhook, at=at)
        return "disabled"
    return result


@transaction.atomic
def webhook_disable(*, webhook: Webhook, at: datetime) -> None:
    """Stop sending to an endpoint: its pending messages are given up, and task events stop being
    recorded once the user has no active endpoint left."""
    Webhook.objects.filter(pk=webhook.pk).update(disabled_at=at, lease_until=None, lease_token="")
    WebhookMessage.objects.filter(webhook_id=webhook.pk, state=WebhookMessage.State.PENDING).update(
        state=WebhookMessage.State.FAILED, finished_at=at
    )
    logger.warning("Webhook %s disabled: every attempt failed since %s", webhook.pk, webhook.failing_since)
    _events_switch(user_id=webhook.user_id)


@transaction.atomic
def webhooks_enable(*, webhook_ids: list[int]) -> int:
    """Staff turn disabled endpoints back on (admin action): sending resumes with new events."""
    webhooks = list(
        Webhook.objects.filter(pk__in=webhook_ids, disabled_at__isnull=False).only("id", "user_id")
    )
    Webhook.objects.filter(pk__in=[webhook.pk for webhook in webhooks]).update(
        disabled_at=None, failing_since=None
    )
    for user_id in {webhook.user_id for webhook in webhooks}:
        _events_switch(user_id=user_id)
    return len(webhooks)
