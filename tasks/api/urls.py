"""Routes under /api/: every one answers with and without the trailing slash, never redirecting."""

from rest_framework.routers import SimpleRouter

from accounts.models import USER_ID_PATTERN
from tasks.api.views import TagViewSet, TaskViewSet


class OptionalSlashRouter(SimpleRouter):
    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register(rf"(?P<user_id>{USER_ID_PATTERN})/tasks", TaskViewSet, basename="task")
router.register(rf"(?P<user_id>{USER_ID_PATTERN})/tags", TagViewSet, basename="tag")

urlpatterns = router.urls
