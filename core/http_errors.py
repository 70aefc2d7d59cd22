"""The API's exceptions beyond DRF's own; each carries the `code` of docs/API.md §2.

With them, the two strings every error answer shares: its media type and its bearer challenge.
"""

from rest_framework import exceptions, status

# RFC 9457: every error body the API sends.
PROBLEM_CONTENT_TYPE = "application/problem+json"
# RFC 6750: the WWW-Authenticate challenge of a 401.
BEARER_CHALLENGE = 'Bearer realm="api"'


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource has changed since you last read it (If-Match does not match)."
    default_code = "precondition_failed"


class SyncExpired(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = "This sync token is too old: sync again without `since`."
    default_code = "sync_expired"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than 1 MiB."
    default_code = "payload_too_large"


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used with a different request body."
    default_code = "idempotency_conflict"


class IdempotencyInProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry shortly."
    default_code = "idempotency_in_progress"
    wait = 1


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; retry shortly."
    default_code = "service_unavailable"
    wait = 5
