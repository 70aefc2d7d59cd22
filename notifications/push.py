"""Sending one Web Push message with pywebpush: RFC 8291 `aes128gcm` encryption, RFC 8292 VAPID,
and what the push service's answer means for the subscription (docs/NOTIFICATIONS.md).

Pushes run on a small thread pool so that the round trips of a batch overlap. pywebpush encrypts
and sends; its HTTP session (the `requests_session` it accepts: any object with `post`) is
`PushSession`, urllib3's connection pool, shared by the threads of a process: connections to a
push service are reused, and a push costs half the CPU it costs through `requests`
(bench/results/REMINDERS.md).
"""

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.utils import timezone
from pywebpush import WebPusher, WebPushException

from notifications.vapid import VapidNotConfigured, authorization_header

logger = logging.getLogger(__name__)


class Outcome:
    SENT = "sent"
    GONE = "gone"  # 404/410: the browser unsubscribed or the subscription expired
    RETRY = "retry"  # 429, 5xx, a network error or timeout
    FAILED = "failed"  # any other answer: retrying will not help


@dataclass(frozen=True)
class PushResult:
    outcome: str
    status: int | None = None
    error: str = ""
    retry_after_seconds: int | None = None


def origin(endpoint: str) -> str:
    """The push service's origin, the VAPID `aud`."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


class PushResponse:
    """The part of a `requests.Response` that pywebpush and this module read."""

    def __init__(self, response: urllib3.BaseHTTPResponse):
        self.status_code = response.status
        self.reason = response.reason or ""
        self.headers = response.headers
        self.content = response.data or b""

    @property
    def text(self) -> str:
        return self.content[:1000].decode("utf-8", "replace")


class PushSession:
    """A `requests.Session` as far as pywebpush uses one (`post`), on urllib3's pool: no retries or
    redirects of its own (the delivery decides about retries), no proxy from the environment."""

    def __init__(self, connections_per_host: int):
        self.pool = urllib3.PoolManager(maxsize=connections_per_host, block=False, retries=False)

    def post(
        self, url: str, data: bytes | None = None, headers=None, timeout: float | None = None
    ) -> PushResponse:
        response = self.pool.request(
            "POST",
            url,
            body=data,
            headers={str(key): str(value) for key, value in (headers or {}).items()},
            timeout=timeout,
            retries=False,
            redirect=False,
        )
        return PushResponse(response)


_session_lock = threading.Lock()
_sessions: dict[str, PushSession] = {}


def _session() -> PushSession:
    with _session_lock:
        if "session" not in _sessions:
            _sessions["session"] = PushSession(max(1, settings.WEBPUSH_CONCURRENCY))
        return _sessions["session"]


def _retry_after(response: PushResponse) -> int | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return int(value)
    try:
        return max(0, int((parsedate_to_datetime(value) - timezone.now()).total_seconds()))
    except (TypeError, ValueError, OverflowError):
        return None


def send(*, endpoint: str, p256dh: str, auth: str, payload: bytes) -> PushResult:
    """Encrypt `payload` for one subscription and POST it; never raises for what a push service or
    the network does (the answer is classified instead)."""
    try:
        headers = {**authorization_header(origin(endpoint)), "Urgency": "high"}
    except VapidNotConfigured as exc:
        return PushResult(Outcome.FAILED, error=str(exc)[:300])
    try:
        pusher = WebPusher(
            {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}, requests_session=_session()
        )
        response = pusher.send(
            payload,
            headers,
            ttl=settings.WEBPUSH_TTL_SECONDS,
            content_encoding="aes128gcm",
            timeout=settings.WEBPUSH_TIMEOUT_SECONDS,
        )
    except urllib3.exceptions.HTTPError as exc:  # refused, reset, timed out, TLS failure
        return PushResult(Outcome.RETRY, error=f"network: {exc.__class__.__name__}")
    except (WebPushException, ValueError, TypeError) as exc:
        # Keys the encryption cannot use: stored before validation existed, or corrupted.
        return PushResult(Outcome.FAILED, error=f"encryption: {exc.__class__.__name__}")
    except Exception as exc:  # anything else is this subscription's failure, never the batch's
        logger.exception("Push to %s broke", origin(endpoint))
        return PushResult(Outcome.FAILED, error=f"error: {exc.__class__.__name__}")
    status = response.status_code
    if 200 <= status < 300:
        return PushResult(Outcome.SENT, status=status)
    reason = f"{status} {response.reason or ''}".strip()[:300]
    if status in (404, 410):
        return PushResult(Outcome.GONE, status=status, error=reason)
    if status == 429 or status >= 500:
        return PushResult(
            Outcome.RETRY, status=status, error=reason, retry_after_seconds=_retry_after(response)
        )
    return PushResult(Outcome.FAILED, status=status, error=reason)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(1, settings.WEBPUSH_CONCURRENCY), thread_name_prefix="push"
            )
        return _pool


def reset_pool_after_fork() -> None:
    """A forked worker process must not inherit the parent's threads (they do not exist in it)."""
    global _pool
    _pool = None
    _sessions.clear()


os.register_at_fork(after_in_child=reset_pool_after_fork)
