"""Every read of webhooks, owned by the caller: another user's webhook is 404, never 403."""

from datetime import datetime

from django.db.models import Q
from django.shortcuts import get_object_or_404

from webhooks.models import Webhook, WebhookAttempt, WebhookMessage

DELIVERIES_SHOWN = 100


def webhook_list(*, user) -> list[Webhook]:
    return list(Webhook.objects.owned_by(user).defer("secret_encrypted").order_by("id"))


def webhook_get(*, user, webhook_id: int) -> Webhook:
    return get_object_or_404(Webhook.objects.owned_by(user).defer("secret_encrypted"), pk=webhook_id)


def webhook_deliveries(*, user, webhook_id: int) -> list[WebhookAttempt]:
    """The last 100 attempts to the caller's webhook, newest first (ids follow the order attempts
    are recorded: one worker at a time holds an endpoint)."""
    webhook = get_object_or_404(Webhook.objects.owned_by(user).only("id"), pk=webhook_id)
    return list(WebhookAttempt.objects.filter(webhook=webhook).order_by("-id")[:DELIVERIES_SHOWN])


def webhooks_with_due_messages(*, now: datetime, limit: int) -> list[int]:
    """Endpoints with a message due and no worker holding them, the longest-waiting first."""
    free = Q(webhook__lease_until__isnull=True) | Q(webhook__lease_until__lt=now)
    rows = (
        WebhookMessage.objects.filter(
            free,
            state=WebhookMessage.State.PENDING,
            next_attempt_at__lte=now,
            webhook__disabled_at__isnull=True,
        )
        .order_by("next_attempt_at")
        .values_list("webhook_id", flat=True)[: limit * 20]
    )
    ids: list[int] = []
    for webhook_id in rows:
        if webhook_id not in ids:
            ids.append(webhook_id)
            if len(ids) == limit:
                break
    return ids


def message_next_due(*, webhook_id: int, now: datetime) -> WebhookMessage | None:
    """The endpoint's oldest message due now: messages go out in the order they were made."""
    return (
        WebhookMessage.objects.filter(
            webhook_id=webhook_id, state=WebhookMessage.State.PENDING, next_attempt_at__lte=now
        )
        .order_by("id")
        .first()
    )
