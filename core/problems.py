"""The API's edges: problem+json errors (RFC 9457), JSON parsing and rendering, content negotiation.

Every error under `/api/` leaves through `problem_response`, whether DRF raised it
(`problem_exception_handler`) or Django did before any view ran (`not_found`, `bad_request`,
`server_error`).
"""

import logging
import math
from http import HTTPStatus
from typing import Any

import orjson
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.encoding import force_str
from django.views import defaults
from rest_framework import exceptions
from rest_framework.views import APIView, set_rollback

from core import errors as domain_errors
from core.http_errors import (
    BEARER_CHALLENGE,
    PROBLEM_CONTENT_TYPE,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    SyncExpired,
)

logger = logging.getLogger(__name__)


# DRF's default codes, renamed to the ones docs/API.md promises clients.
_CODE_ALIASES = {
    "authentication_failed": "invalid_token",
    "throttled": "rate_limited",
    "parse_error": "malformed_json",
    "error": "server_error",
}


# --- The problem body -----------------------------------------------------------------------------
def problem_body(
    request: HttpRequest | None,
    status_code: int,
    code: str,
    detail: str,
    errors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "code": code,
        "detail": detail,
        "request_id": getattr(request, "request_id", ""),
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    request: HttpRequest | None,
    status_code: int,
    code: str,
    detail: str,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    body = problem_body(request, status_code, code, detail, errors)
    response = HttpResponse(
        orjson.dumps(body), status=status_code, content_type=PROBLEM_CONTENT_TYPE, headers=headers
    )
    if request is not None and getattr(request, "request_id", None):
        response["X-Request-ID"] = request.request_id
    return response


def _flatten_messages(detail: Any, prefix: str = "") -> list[str]:
    """Nested serializer errors (a list item's, a child field's) as plain, readable strings."""
    if isinstance(detail, dict):
        messages = []
        for key, value in detail.items():
            label = f"Item {int(key) + 1}" if isinstance(key, int) else str(key)
            messages += _flatten_messages(value, f"{prefix}{label}: ")
        return messages
    if isinstance(detail, list):
        return [message for item in detail for message in _flatten_messages(item, prefix)]
    return [f"{prefix}{force_str(detail)}"]


def validation_errors(detail: Any) -> dict[str, list[str]]:
    """Errors keyed by field or parameter name, each a list of messages (docs/API.md §2)."""
    if isinstance(detail, dict):
        return {str(field): _flatten_messages(messages) for field, messages in detail.items()}
    return {"non_field_errors": _flatten_messages(detail)}


def _validation_summary(errors: dict[str, list[str]]) -> str:
    field, messages = next(iter(errors.items()))
    first = messages[0] if messages else "Invalid value."
    summary = first if field == "non_field_errors" else f"{field}: {first}"
    more = sum(len(m) for m in errors.values()) - 1
    return summary + (f" (and {more} more)" if more > 0 else "")


def _authenticate_header(code: str) -> str:
    if code in {"invalid_token", "token_expired"}:
        return f'{BEARER_CHALLENGE}, error="invalid_token"'
    return BEARER_CHALLENGE


def problem_exception_handler(exc: Exception, context: dict) -> HttpResponse:
    """DRF's EXCEPTION_HANDLER: every exception a view raises becomes problem+json."""
    request = context.get("request")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(force_str(exc) if str(exc) else None)
    elif isinstance(exc, domain_errors.NotFound):
        exc = exceptions.NotFound(str(exc))
    elif isinstance(exc, domain_errors.PreconditionFailed):
        exc = PreconditionFailed(str(exc))
    elif isinstance(exc, domain_errors.Expired):
        exc = SyncExpired(str(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("Database unavailable: %s", exc.__class__.__name__)
        exc = ServiceUnavailable()
    elif isinstance(exc, SuspiciousOperation):
        # What Django's handler400 would have answered, had the view not been DRF's.
        logger.warning("Suspicious request to %s: %s", getattr(request, "path", "?"), exc.__class__.__name__)
        set_rollback()
        return _suspicious_request_problem(request, exc)

    set_rollback()
    if not isinstance(exc, exceptions.APIException):
        logger.error("Unhandled error in %s", getattr(request, "path", "?"), exc_info=exc)
        return problem_response(
            request, 500, "server_error", "An unexpected error occurred. Quote the request id."
        )

    headers: dict[str, str] = {}
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))

    if isinstance(exc, exceptions.ValidationError):
        errors = validation_errors(exc.detail)
        return problem_response(
            request,
            exc.status_code,
            "validation_error",
            _validation_summary(errors),
            errors=errors,
            headers=headers,
        )

    detail = exc.detail
    if isinstance(detail, (list, dict)):  # unusual for non-validation errors; keep it readable
        detail = "; ".join(_flatten_messages(detail))
    raw_code = getattr(exc.detail, "code", None) or exc.default_code
    code = _CODE_ALIASES.get(raw_code, raw_code)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = _authenticate_header(code)
    return problem_response(request, exc.status_code, code, force_str(detail), headers=headers)


# --- Views for errors raised before a view runs ---------------------------------------------------
class ApiRouteNotFound(APIView):
    """The catch-all under `/api/`: an unknown route is 404 with or without a token."""

    authentication_classes: list = []
    permission_classes: list = []
    schema = None

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(f"No API route matches {request.path}.")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_response(request, 404, "not_found", f"No API route matches {request.path}.")
    return defaults.page_not_found(request, exception)


def _suspicious_request_problem(request: HttpRequest | None, exception: Exception) -> HttpResponse:
    """A request Django refused before (or while) reading it, as the problem a client can act on."""
    if isinstance(exception, RequestDataTooBig):
        return problem_response(request, 413, "payload_too_large", PayloadTooLarge.default_detail)
    if isinstance(exception, DisallowedHost):
        errors = {"Host": ["This server does not answer to this host name."]}
    else:
        errors = {"non_field_errors": ["The request could not be understood."]}
    return problem_response(request, 400, "validation_error", _validation_summary(errors), errors=errors)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: Django's SuspiciousOperation (a Host not in ALLOWED_HOSTS, a body over the limit)."""
    if _is_api(request):
        return _suspicious_request_problem(request, exception)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return problem_response(
            request, 500, "server_error", "An unexpected error occurred. Quote the request id."
        )
    return defaults.server_error(request)
