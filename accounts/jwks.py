"""Better Auth's JWKS document, cached per process.

Keys are fetched once, kept for `BETTER_AUTH_JWKS_CACHE_SECONDS`, and refetched when a token names
an unknown `kid` (rotation) - but at most once per `BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS`, so a
flood of tokens with made-up kids cannot become a flood of requests to Better Auth.
"""

import json
import logging
import threading
import time
import urllib.request

import jwt
from django.conf import settings

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024


class JWKSUnavailable(Exception):
    """The JWKS document could not be fetched and no key is cached."""


class UnknownKey(Exception):
    """The token's `kid` is not in the (freshly fetched) JWKS document."""


class JWKSCache:
    """The keys of one JWKS URL. A token whose key is cached never waits for a fetch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the fields below; never held during a fetch
        self._fetch_lock = threading.Lock()  # one fetch at a time
        self.clear()

    def clear(self) -> None:
        self._url = ""
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._last_attempt = float("-inf")
        self.fetch_count = 0

    def key_for(self, kid: str | None) -> jwt.PyJWK:
        url = settings.BETTER_AUTH_JWKS_URL
        key, fresh = self._cached(url, kid)
        if key is not None and fresh:
            return key
        # Unknown kid or stale document: refetch. A thread that holds a stale key uses it rather
        # than wait for another thread's fetch; one without a key waits for that fetch's result.
        if not self._fetch_lock.acquire(blocking=key is None):
            return key  # type: ignore[return-value]
        try:
            key, fresh = self._cached(url, kid)  # the fetch we waited for may have brought it
            if key is not None and fresh:
                return key
            now = time.monotonic()
            with self._lock:
                may_fetch = now - self._last_attempt >= settings.BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS
                if may_fetch:
                    self._last_attempt = now
                    self.fetch_count += 1
            if may_fetch:
                keys = self._download(url)
                with self._lock:
                    if keys and self._url == url:
                        self._keys = keys
                        self._fetched_at = now
            key, _ = self._cached(url, kid)
            if key is not None:
                return key
            with self._lock:
                if not self._keys:
                    raise JWKSUnavailable(f"No signing keys could be loaded from {url}.")
            raise UnknownKey(kid)
        finally:
            self._fetch_lock.release()

    def _cached(self, url: str, kid: str | None) -> tuple[jwt.PyJWK | None, bool]:
        """The cached key for `kid` (or None), and whether the cached document is still fresh."""
        with self._lock:
            if url != self._url:
                self.clear()
                self._url = url
            fresh = time.monotonic() - self._fetched_at < settings.BETTER_AUTH_JWKS_CACHE_SECONDS
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values())), fresh
            return self._keys.get(kid), fresh

    @staticmethod
    def _download(url: str) -> dict[str | None, jwt.PyJWK]:
        """The usable signing keys of the document at `url`; empty when it cannot be had."""
        try:
            if not url.startswith(("https://", "http://")):
                raise ValueError("BETTER_AUTH_JWKS_URL must be an http(s) URL")
            request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                document = json.loads(response.read(MAX_JWKS_BYTES))
        except (OSError, ValueError, RecursionError) as error:
            logger.warning("Could not fetch JWKS from %s: %s", url, error)
            return {}
        entries = document.get("keys") if isinstance(document, dict) else None
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[entry.get("kid")] = jwt.PyJWK(entry)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
                logger.warning("Skipping unusable JWKS key %r: %s", entry.get("kid"), error)
        return keys


jwks_cache = JWKSCache()
