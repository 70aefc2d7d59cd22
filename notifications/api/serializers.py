"""The push-subscription bodies of docs/API.md §7."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from notifications import rules


def _apply(rule, value):
    try:
        return rule(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


class PushKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(trim_whitespace=False, help_text="base64url uncompressed P-256 point.")
    auth = serializers.CharField(trim_whitespace=False, help_text="base64url 16-byte secret.")

    def validate_p256dh(self, value: str) -> str:
        return _apply(rules.clean_p256dh, value)

    def validate_auth(self, value: str) -> str:
        return _apply(rules.clean_auth, value)


class PushSubscriptionWriteSerializer(serializers.Serializer):
    """The browser's `PushSubscription.toJSON()`; `expirationTime` and anything else is ignored."""

    endpoint = serializers.CharField(trim_whitespace=False, help_text="The push service URL (https).")
    keys = PushKeysSerializer()

    def validate_endpoint(self, value: str) -> str:
        return _apply(rules.clean_endpoint, value)


class PushSubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_success_at = serializers.DateTimeField(allow_null=True)


class PublicKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(help_text="The VAPID application server key, base64url.")


def subscription_to_dict(subscription) -> dict:
    return {
        "id": subscription.pk,
        "endpoint": subscription.endpoint,
        "created_at": subscription.created_at,
        "last_success_at": subscription.last_success_at,
    }
