"""Web Push routes; with and without the trailing slash, as every route."""

from django.urls import re_path

from accounts.models import USER_ID_PATTERN
from notifications.api.views import PublicKeyView, PushSubscriptionViewSet
from tasks.api.urls import OptionalSlashRouter

router = OptionalSlashRouter()
router.register(
    rf"(?P<user_id>{USER_ID_PATTERN})/push-subscriptions",
    PushSubscriptionViewSet,
    basename="push-subscription",
)

urlpatterns = [
    re_path(r"^push/public-key/?$", PublicKeyView.as_view(), name="push-public-key"),
    *router.urls,
]
