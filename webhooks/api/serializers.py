"""HTTP bodies of the webhook routes (docs/API.md §9). Input is checked by webhooks.rules and
webhooks.addresses (shared with the admin); these serializers shape answers and the schema."""

from rest_framework import serializers

from webhooks.models import EVENTS, Webhook, WebhookAttempt
from webhooks.services import iso_utc


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="https URL of a public address.")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENTS), min_length=1)


class WebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENTS))
    created_at = serializers.DateTimeField()
    disabled_at = serializers.DateTimeField(allow_null=True)


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="`whsec_` + base64 of 32 bytes; shown only in this answer.")


class DeliverySerializer(serializers.Serializer):
    message_id = serializers.CharField()
    event = serializers.CharField(
        help_text="One of the event names of `events`."
    )  # one enum name in the schema
    attempt = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField()


def webhook_to_dict(webhook: Webhook) -> dict:
    return {
        "id": webhook.pk,
        "url": webhook.url,
        "events": webhook.events,
        "created_at": iso_utc(webhook.created_at),
        "disabled_at": iso_utc(webhook.disabled_at) if webhook.disabled_at else None,
    }


def attempt_to_dict(attempt: WebhookAttempt) -> dict:
    return {
        "message_id": attempt.message_id,
        "event": attempt.event,
        "attempt": attempt.attempt,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "at": iso_utc(attempt.at),
    }
