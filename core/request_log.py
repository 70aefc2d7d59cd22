"""Production logs: one JSON object per line on stdout, and one line per request.

What is logged is chosen field by field (never a request's headers, body, query string or path),
so a token, password or secret cannot reach the logs through the request log. The route is the
URL pattern (`api/<user_id>/tasks/<pk>/`), not the path the client sent. Successful probes
(/healthz, /readyz) are not logged.
"""

import contextvars
import functools
import logging
import re
import sys
import time
from datetime import UTC, datetime

import orjson
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

logger = logging.getLogger("todo_project.request")

# The id of the request this thread is serving, added to every log line written meanwhile.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

REQUEST_FIELDS = ("request_id", "user_id", "method", "route", "status", "duration_ms", "client_ip")
TASK_FIELDS = ("task_id", "task_name")


class RequestContextFilter(logging.Filter):
    """Stamp each record with the id of the request being served when it was written, or, in a
    Celery worker, with the id and name of the task being run."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        if getattr(record, "task_id", None) is None:
            task = current_task()
            if task is not None and task.request.id:
                record.task_id = task.request.id
                record.task_name = task.name
        return True


def current_task():
    """The Celery task this thread is running, if any (imported late: web processes never need it)."""
    state = sys.modules.get("celery._state")
    return state.get_current_task() if state is not None else None


class JSONFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...request fields, "exception"}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id
        for field in REQUEST_FIELDS[1:] + TASK_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def route_of(request: HttpRequest) -> str | None:
    """The matched URL pattern in readable form, or None when no route matched (a 404)."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.url_name == "api-not-found":
        return None
    return _readable_route(match.route)


@functools.lru_cache(maxsize=512)
def _readable_route(pattern: str) -> str:
    """`^api/(?P<user_id>...)/tasks/?$` -> `/api/<user_id>/tasks/` (a route is made once per pattern)."""
    route = _NAMED_GROUP.sub(r"<\1>", pattern)
    return "/" + route.replace("^", "").replace("$", "").replace("/?", "/").replace("\\", "")


def user_id_of(request: HttpRequest) -> str | None:
    """The authenticated user's id, without ever loading a user just to log it."""
    user = request.__dict__.get("user")  # DRF sets the real user; Django's middleware a lazy one
    if isinstance(user, SimpleLazyObject):
        if user._wrapped is empty:
            return None
        user = user._wrapped
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


def _is_probe(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name in {"healthz", "readyz"}


class RequestLogMiddleware:
    """Log every request once it is answered: who, which route, the status and how long it took."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Imported here: this module is loaded while logging is configured (and by gunicorn's
        # master), before DRF may read its settings.
        from core.throttling import client_address

        started = time.perf_counter()
        token = current_request_id.set(getattr(request, "request_id", None))
        try:
            response = self.get_response(request)
            if response.status_code < 400 and _is_probe(request):
                return response  # a load balancer's probe every few seconds is noise, unless it fails
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            route = route_of(request)
            logger.log(
                logging.ERROR if response.status_code >= 500 else logging.INFO,
                "%s %s %s",
                request.method,
                route or "(no route)",
                response.status_code,
                extra={
                    "user_id": user_id_of(request),
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "client_ip": client_address(request),
                },
            )
            return response
        finally:
            current_request_id.reset(token)
