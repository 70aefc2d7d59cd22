"""Every read of this app."""

from accounts.models import User
from notifications.models import PushSubscription


def push_subscription_list(*, user: User) -> list[dict]:
    """The caller's subscriptions, oldest first (at most MAX_SUBSCRIPTIONS_PER_USER)."""
    return list(
        PushSubscription.objects.filter(user=user)
        .order_by("pk")
        .values("id", "endpoint", "created_at", "last_success_at")
    )
