"""What the notification services refuse, without HTTP (core/problems.py maps each to its problem)."""

from core.errors import DomainError, NotFound


class SubscriptionNotFound(NotFound):
    """Not one of the caller's push subscriptions (another user's is the same: 404)."""


class SubscriptionLimitReached(DomainError):
    """The user has MAX_SUBSCRIPTIONS_PER_USER subscriptions already."""
