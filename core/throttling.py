"""Rate limits (docs/API.md §5): per user on authenticated views, per client address on the auth routes.

Settings: DEFAULT_THROTTLE_RATES["user"] (API_RATE_LIMIT_USER) applies to every authenticated view;
a view's `throttle_scope` applies DEFAULT_THROTTLE_RATES[scope] per client address when that rate
is set: "auth" (API_RATE_LIMIT_AUTH) on the /api/auth/* routes.

A sliding window: a request is allowed while fewer than `limit` requests were allowed in the last
`period` seconds, and `Retry-After` is the exact time until the oldest of them leaves the window.
With Redis the check-and-record is one Lua script (atomic, one round trip, Redis's clock), so every
process and instance sharing the Redis enforces one limit, and concurrent requests cannot slip past
it the way DRF's read-then-write history can. Without Redis, the history lives in the local cache
under a lock. When the cache is unreachable the request is let through (and logged): losing rate
limiting for a while is better than refusing every request.

Local allowance (issue 11: at most one Redis round trip per request, far fewer under load). For
limits of 200 requests per period or more, a process takes 1 % of the limit (at most 50 slots) from
Redis in one round trip and hands them out itself for the next `ALLOWANCE_SECONDS`; slots it has not
used by then are dropped, still counted. Precision: a slot is stamped when it is taken, not when it
is used (at most `ALLOWANCE_SECONDS` earlier), so a client may get up to `batch - 1` requests per
process beyond the limit in some window, and may be refused up to `batch - 1` requests per process
early (slots taken but never used). That is 1 % of the limit per process either way: 5 requests with
the default 600/min. Limits under 200 (the sign-in routes' 20/min) stay exact, a round trip each.
"""

import functools
import hashlib
import logging
import secrets
import threading
import time
import weakref

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core.rates import RATE as _RATE
from core.rates import UNITS as _UNITS

logger = logging.getLogger(__name__)


# KEYS[1] = the sorted set of allowed requests (score = time); ARGV = period, limit, member, wanted.
# Returns {n, 0} when n (1 to wanted) slots were taken, {0, seconds until a slot frees} when none.
_SLIDING_WINDOW_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local period = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local wanted = tonumber(ARGV[4] or '1')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local free = limit - redis.call('ZCARD', KEYS[1])
if free > 0 then
  local taken = math.min(free, wanted)
  for i = 1, taken do
    redis.call('ZADD', KEYS[1], now, ARGV[3] .. ':' .. i)
  end
  redis.call('PEXPIRE', KEYS[1], math.ceil(period * 1000))
  return {taken, '0'}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + period - now)}
"""
ALLOWANCE_SECONDS = 5.0
_ALLOWANCE_MAX_KEYS = 10_000

_local_lock = threading.Lock()
# key -> [slots left, monotonic time they lapse]: this process's allowance taken from Redis.
_allowances: dict[str, list] = {}
_allowance_lock = threading.Lock()


@functools.lru_cache(maxsize=64)
def parse_rate(rate: str) -> tuple[int, int]:
    """`600/min` -> (600, 60); `20/15min` -> (20, 900)."""
    match = _RATE.fullmatch(rate.strip().lower())
    if match is None or match["unit"] not in _UNITS:
        raise ValueError(f"Not a rate: {rate!r}")
    return int(match["limit"]), int(match["count"] or 1) * _UNITS[match["unit"]]


def client_address(request) -> str:
    """The client's address, trusting X-Forwarded-For only as far as NUM_PROXIES says."""
    return BaseThrottle().get_ident(request) or ""


# One registered script per cache client (caches are per thread). Django's get_client() builds a new
# redis.Redis, with its ~170 response callbacks, on every call: more CPU than the round trip itself.
_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _script_for(cache: RedisCache):
    """The sliding-window script bound to the cache's primary; EVALSHA, sending the script itself
    only the first time a Redis server sees it."""
    script = _scripts.get(cache._cache)
    if script is None:
        client = cache._cache.get_client(write=True)
        script = _scripts[cache._cache] = client.register_script(_SLIDING_WINDOW_LUA)
    return script


def allowance_batch(limit: int) -> int:
    """How many slots a process takes from Redis at once for this limit (1: exact)."""
    return max(1, min(50, limit // 100))


def _from_allowance(key: str) -> bool:
    with _allowance_lock:
        entry = _allowances.get(key)
        if entry is None or entry[0] <= 0 or entry[1] <= time.monotonic():
            return False
        entry[0] -= 1
        return True


def take_slot(key: str, limit: int, period: int) -> float | None:
    """Record one request under `key` if fewer than `limit` were recorded in the last `period`
    seconds: None when recorded, else the seconds until a slot frees up."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        batch = allowance_batch(limit)
        full_key = cache.make_and_validate_key(key)  # with the deployment's prefix
        if batch > 1 and _from_allowance(full_key):
            return None
        taken, wait = _script_for(cache)(keys=[full_key], args=[period, limit, secrets.token_hex(8), batch])
        if not int(taken):
            return max(float(wait), 0.001)
        if int(taken) > 1:
            with _allowance_lock:
                if len(_allowances) >= _ALLOWANCE_MAX_KEYS:
                    _allowances.clear()
                _allowances[full_key] = [int(taken) - 1, time.monotonic() + ALLOWANCE_SECONDS]
        return None
    with _local_lock:  # the local cache is per process: a process-wide lock makes this atomic
        now = time.time()
        history = [stamp for stamp in cache.get(key, []) if stamp > now - period]
        if len(history) >= limit:
            return max(history[0] + period - now, 0.001)
        history.append(now)
        cache.set(key, history, period)
        return None


class SlidingWindowRateThrottle(BaseThrottle):
    """A rate from DEFAULT_THROTTLE_RATES[scope], counted per `ident()`."""

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
        # Read per request (not at import, as DRF's own throttles do) so settings changes apply.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope) if scope else None
        if not rate:
            return True
        ident = self.ident(request, view)
        if ident is None:
            return True
        limit, period = parse_rate(rate)
        # Hashed: an address or user id of any shape makes a valid key for every cache backend.
        digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
        try:
            self._wait = take_slot(f"throttle:{scope}:{period}:{digest}", limit, period)
        except Exception:
            logger.warning("Rate limiting skipped: the cache is unavailable", exc_info=True)
            return True
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class UserRateThrottle(SlidingWindowRateThrottle):
    """Per authenticated user (the token's `sub`), on every view that authenticates."""

    scope = "user"

    def ident(self, request: Request, view) -> str | None:
        user = request.user
        if user is None or not user.is_authenticated:
            return None
        return str(user.pk)


class AddressScopedRateThrottle(SlidingWindowRateThrottle):
    """Per client address on views whose `throttle_scope` has a rate (the sign-in routes: "auth").

    Always the address, even when a user is known: the sign-in routes authenticate no one, and the
    web sign-in form (web/views.py) asks these throttles with a plain Django request. A scope
    without a configured rate is not limited here; authenticated views are limited per user by
    UserRateThrottle instead (a whole office behind one address is many users).
    """

    def get_scope(self, view) -> str:
        return getattr(view, "throttle_scope", "") or ""

    def ident(self, request: Request, view) -> str | None:
        return client_address(request) or None
