"""OpenAPI pieces shared by every app: the problem+json body, error responses, the bearer scheme."""

import threading
from typing import ClassVar

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import translation
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.response import Response

from core.http_errors import PROBLEM_CONTENT_TYPE


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error under /api/ is answered (docs/API.md §2)."""

    type = serializers.CharField(default="about:blank")
    title = serializers.CharField()
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. not_found, validation_error.")
    detail = serializers.CharField()
    request_id = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Only for validation_error: messages keyed by field or parameter name.",
    )


def problems(*status_codes: int) -> dict:
    """`responses=` entries documenting these error statuses as problem+json."""
    return {(code, PROBLEM_CONTENT_TYPE): ProblemSerializer for code in status_codes}


# Any route can answer these: rate limits, a crash, the database being away.
ALWAYS = (429, 500, 503)
AUTHENTICATED = (401, 403, *ALWAYS)


class BetterAuthJWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BetterAuthJWTAuthentication"
    name = "BetterAuthBearer"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer", bearer_format="JWT"
        )


# --- Serving the document and its UI ----------------------------------------------------------------
class CachedSchemaView(SpectacularAPIView):
    """`/api/schema/`: the OpenAPI document, generated once per process (per version and language)
    rather than on every request: generating it walks every view and serializer (about a second)."""

    _schemas: ClassVar[dict[tuple, dict]] = {}
    _lock = threading.Lock()

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, translation.get_language())
        schema = self._schemas.get(key)
        if schema is None:
            with self._lock:
                schema = self._schemas.get(key)
                if schema is None:
                    generator = self.generator_class(
                        urlconf=self.urlconf, api_version=version, patterns=self.patterns
                    )
                    schema = generator.get_schema(request=request, public=self.serve_public)
                    self._schemas[key] = schema
        filename = self._get_filename(request, version)
        return Response(data=schema, headers={"Content-Disposition": f'inline; filename="{filename}"'})


@receiver(setting_changed)
def _forget_schemas(**kwargs) -> None:
    # Tests that change settings the document depends on get a fresh one.
    CachedSchemaView._schemas.clear()


# Swagger UI from our own static files; its start-up script is served by the view itself (the split
# view), so no inline script is needed. Swagger UI sets inline styles, hence 'unsafe-inline' for
# styles only; it shows data: images.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


class DocsView(SpectacularSwaggerSplitView):
    """`/api/docs/`: Swagger UI, under a Content-Security-Policy that allows only this origin's scripts."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response
