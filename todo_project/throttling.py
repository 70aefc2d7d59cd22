"""Rate limits (API.md §5): per user on authenticated views, per client address on the auth routes.

Counters are fixed windows in the configured cache, incremented atomically (one Redis round trip:
INCR and EXPIRE in a transaction), so every process and instance sharing a Redis enforces one limit,
and concurrent requests cannot slip past it the way DRF's read-modify-write history can. A fixed
window admits at most twice the rate across a window boundary; `Retry-After` is the exact time
until the window ends. When the cache is unreachable the request is let through (and logged):
losing rate limiting for a while is better than refusing every request.
"""

import hashlib
import logging
import re
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_UNITS |= {"h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_RATE = re.compile(r"(?P<limit>[1-9][0-9]*)/(?P<count>[1-9][0-9]*)?(?P<unit>[a-z]+?)s?")


def parse_rate(rate: str) -> tuple[int, int]:
    """`600/min` -> (600, 60); `20/15min` -> (20, 900)."""
    match = _RATE.fullmatch(rate.strip().lower())
    if match is None or match["unit"] not in _UNITS:
        raise ValueError(f"Not a rate: {rate!r}")
    return int(match["limit"]), int(match["count"] or 1) * _UNITS[match["unit"]]


def client_address(request) -> str:
    """The client's address, trusting X-Forwarded-For only as far as NUM_PROXIES says."""
    return BaseThrottle().get_ident(request) or ""


def _increment(key: str, ttl: int) -> int:
    """Add one to the counter at `key` (created with `ttl` seconds to live) and return it."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        pipe = cache._cache.get_client(full_key, write=True).pipeline(transaction=True)
        pipe.incr(full_key)
        pipe.expire(full_key, ttl, nx=True)
        return int(pipe.execute()[0])
    for _ in range(3):
        if cache.add(key, 1, ttl):
            return 1
        try:
            return cache.incr(key)
        except ValueError:  # expired between add() and incr(); start the window again
            continue
    return 1


class FixedWindowRateThrottle(BaseThrottle):
    """A rate from DEFAULT_THROTTLE_RATES[scope], counted per `ident()` in fixed windows."""

    scope = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def get_scope(self, view) -> str:
        return self.scope

    def ident(self, request: Request, view) -> str | None:
        """Who is counted; None means this request is not limited by this throttle."""
        raise NotImplementedError

    def allow_request(self, request: Request, view) -> bool:
        scope = self.get_scope(view)
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope) if scope else None
        if not rate:
            return True
        ident = self.ident(request, view)
        if ident is None:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        # Hashed: an address or user id of any shape makes a valid key for every cache backend.
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        key = f"throttle:{scope}:{digest}:{period}:{window}"
        try:
            count = _increment(key, period + 1)
        except Exception:
            logger.warning("Rate limiting skipped: the cache is unavailable", exc_info=True)
            return True
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float | None:
        return self._wait


class UserRateThrottle(FixedWindowRateThrottle):
    """Per authenticated user (the token's `sub`), on every view that authenticates."""

    scope = "user"

    def ident(self, request: Request, view) -> str | None:
        user = request.user
        if user is None or not user.is_authenticated:
            return None
        return str(user.pk)


class AddressScopedRateThrottle(FixedWindowRateThrottle):
    """Per client address on views that set `throttle_scope` (the sign-in routes: "auth")."""

    def get_scope(self, view) -> str:
        return getattr(view, "throttle_scope", "") or ""

    def ident(self, request: Request, view) -> str | None:
        return client_address(request) or None
