"""Field rules of a webhook, shared by the API, the admin and the services."""

from django.core.exceptions import ValidationError

from webhooks.models import EVENTS

MAX_WEBHOOKS_PER_USER = 10


def clean_events(value: object) -> list[str]:
    """A non-empty list of known event names, duplicates merged, in the order of EVENTS."""
    if not isinstance(value, list):
        raise ValidationError({"events": ["Must be a list of event names."]})
    if not value:
        raise ValidationError({"events": ["Name at least one event."]})
    unknown = [name for name in value if not isinstance(name, str) or name not in EVENTS]
    if unknown:
        shown = ", ".join(repr(name)[:40] for name in unknown[:3])
        raise ValidationError({"events": [f"Unknown event {shown}: use {', '.join(EVENTS)}."]})
    return [name for name in EVENTS if name in value]
