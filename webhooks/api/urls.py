"""`/api/{user_id}/webhooks/...`, with or without the trailing slash."""

from accounts.models import USER_ID_PATTERN
from tasks.api.urls import OptionalSlashRouter
from webhooks.api.views import WebhookViewSet

router = OptionalSlashRouter()
router.register(rf"(?P<user_id>{USER_ID_PATTERN})/webhooks", WebhookViewSet, basename="webhook")

urlpatterns = router.urls
