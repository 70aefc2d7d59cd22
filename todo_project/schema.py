"""OpenAPI pieces shared by every app: the problem+json body, error responses, the bearer scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import serializers

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error under /api/ is answered (API.md §2)."""

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
    return {(code, PROBLEM_MEDIA_TYPE): ProblemSerializer for code in status_codes}


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
