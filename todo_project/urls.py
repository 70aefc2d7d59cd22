"""Root URLs: the API under /api/, the admin, the probes, the pages."""

import os

from django.contrib import admin
from django.urls import include, path, re_path

from core import health
from core.problems import ApiRouteNotFound
from core.schema import CachedSchemaView, DocsView

ADMIN_PATH = os.environ.get("DJANGO_ADMIN_PATH", "admin/").strip("/") + "/"

api_patterns = [
    re_path(
        r"^schema/?$",
        CachedSchemaView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    re_path(
        r"^docs/?$",
        DocsView.as_view(url_name="schema", authentication_classes=[], permission_classes=[]),
        name="docs",
    ),
    path("", include("accounts.api.urls")),
    path("", include("tasks.api.urls")),
    path("", include("notifications.api.urls")),
    re_path(r"^.*$", ApiRouteNotFound.as_view(), name="api-not-found"),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    re_path(r"^api$", ApiRouteNotFound.as_view(), name="api-not-found"),
    path(ADMIN_PATH, admin.site.urls),
    re_path(r"^healthz/?$", health.healthz, name="healthz"),
    re_path(r"^readyz/?$", health.readyz, name="readyz"),
    # The sign-in and task pages (web/): /, /login, /register, /logout, /auth/session-token.
    path("", include("web.urls")),
]

handler400 = "core.problems.bad_request"
handler404 = "core.problems.not_found"
handler500 = "core.problems.server_error"
