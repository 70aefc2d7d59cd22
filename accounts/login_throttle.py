"""Per-account sign-in throttling for `POST /api/auth/token/` and the `/login` page.

The per-address limit (API_RATE_LIMIT_AUTH) does not stop a guesser who spreads attempts over many
addresses. So failures are also counted per account (any address): after
LOGIN_ACCOUNT_FAILURE_LIMIT failures in a row, the account is locked for 30 s, and each further
failure locks it again for twice as long, up to LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS. While locked,
sign-in attempts for it are refused (429 with Retry-After) without checking the password, so a lock
gives no guesses away.

That alone would let an attacker keep a user locked out for good, with one failure per cool-off.
So an address from which the account signed in successfully in the last 30 days (its "usual
address") is exempt from the account lock: it has only its per-address limit, and the user keeps
signing in from it during an attack. Failures from a usual address do not count against the account.
A success from any address clears the account's failures.

Counters live in the cache (Redis when REDIS_URL is set, so shared by every process); an
unreachable cache lets sign-in through unthrottled (logged), as the rate limits do. Accounts that
do not exist are counted by the login as typed (case-folded), so a lock does not reveal whether an
account exists.
"""

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.settings import api_settings

from accounts.models import User

logger = logging.getLogger(__name__)

# The throttle scope of the sign-in routes (API_RATE_LIMIT_AUTH): one budget per client address.
SIGN_IN_SCOPE = "auth"
FIRST_LOCK_SECONDS = 30
USUAL_ADDRESS_SECONDS = 30 * 24 * 3600
FAILURES_FORGOTTEN_AFTER_SECONDS = 24 * 3600


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def account_key(*, login: str, user: User | None = None) -> str:
    """Who a sign-in attempt is counted against: the account when one matches (whichever spelling
    of it was typed: email in any case, or id), else the login as typed, case-folded."""
    if user is None and "@" in login:
        user = User.objects.filter(email__iexact=login.strip()).exclude(password__startswith="!").first()
    elif user is None and login:
        user = User.objects.filter(pk=login.strip()).exclude(password__startswith="!").first()
    return f"id:{user.pk}" if user is not None else f"login:{login.strip().casefold()}"


def _keys(account: str, address: str) -> tuple[str, str, str]:
    digest = _digest(account)
    return (
        f"login:failures:{digest}",
        f"login:locked:{digest}",
        f"login:usual:{_digest(account, address)}",
    )


def lock_seconds(failures: int) -> int:
    """The lock after this many failures in a row: none below the limit, then 30 s, doubling."""
    if failures < settings.LOGIN_ACCOUNT_FAILURE_LIMIT:
        return 0
    doublings = min(failures - settings.LOGIN_ACCOUNT_FAILURE_LIMIT, 20)
    return min(FIRST_LOCK_SECONDS * 2**doublings, settings.LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS)


def sign_in_wait(*, account: str, address: str) -> int | None:
    """Seconds until this account may try again from this address, or None when it may now."""
    _, locked_key, usual_key = _keys(account, address)
    try:
        if cache.get(usual_key):
            return None
        locked_until = cache.get(locked_key)
    except Exception:
        logger.warning("Per-account sign-in throttling skipped: the cache is unavailable", exc_info=True)
        return None
    if locked_until is None:
        return None
    wait = locked_until - time.time()
    return max(1, int(wait + 0.999)) if wait > 0 else None


def sign_in_failed(*, account: str, address: str) -> None:
    failures_key, locked_key, usual_key = _keys(account, address)
    try:
        if cache.get(usual_key):
            return
        cache.add(failures_key, 0, FAILURES_FORGOTTEN_AFTER_SECONDS)
        failures = cache.incr(failures_key)
        cache.touch(failures_key, FAILURES_FORGOTTEN_AFTER_SECONDS)
        seconds = lock_seconds(failures)
        if seconds:
            cache.set(locked_key, time.time() + seconds, seconds)
    except Exception:
        logger.warning("Per-account sign-in throttling skipped: the cache is unavailable", exc_info=True)


def sign_in_succeeded(*, account: str, address: str) -> None:
    failures_key, locked_key, usual_key = _keys(account, address)
    try:
        cache.delete_many([failures_key, locked_key])
        cache.set(usual_key, 1, USUAL_ADDRESS_SECONDS)
    except Exception:
        logger.warning("Per-account sign-in throttling skipped: the cache is unavailable", exc_info=True)


class _SignInRoute:
    """What the API's throttles read of a view: the sign-in routes' scope."""

    throttle_scope = SIGN_IN_SCOPE


def address_wait(request) -> int | None:
    """Seconds this client must wait before another sign-in attempt, else None (counting this one).

    The API's throttles decide, with the sign-in routes' scope, so a web form post and a
    `POST /api/auth/token/` draw on one budget per address.
    """
    throttles = [throttle_class() for throttle_class in api_settings.DEFAULT_THROTTLE_CLASSES]
    waits = [throttle.wait() for throttle in throttles if not throttle.allow_request(request, _SignInRoute)]
    if not waits:
        return None
    return max(1, math.ceil(max((wait for wait in waits if wait is not None), default=1)))
