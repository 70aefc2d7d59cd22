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
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self._url = ""
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._last_attempt = float("-inf")
        self.fetch_count = 0

    def key_for(self, kid: str | None) -> jwt.PyJWK:
        url = settings.BETTER_AUTH_JWKS_URL
        with self._lock:
            if url != self._url:
                self.clear()
                self._url = url
            now = time.monotonic()
            fresh = now - self._fetched_at < settings.BETTER_AUTH_JWKS_CACHE_SECONDS
            key = self._find(kid)
            if key is not None and fresh:
                return key
            may_fetch = now - self._last_attempt >= settings.BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS
            if may_fetch:
                self._refresh(url, now)
                key = self._find(kid)
            if key is not None:
                return key
            if not self._keys:
                raise JWKSUnavailable(f"No signing keys could be loaded from {url}.")
            raise UnknownKey(kid)

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    def _refresh(self, url: str, now: float) -> None:
        self._last_attempt = now
        self.fetch_count += 1
        try:
            if not url.startswith(("https://", "http://")):
                raise ValueError("BETTER_AUTH_JWKS_URL must be an http(s) URL")
            request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                document = json.loads(response.read(MAX_JWKS_BYTES))
        except (OSError, ValueError) as error:
            logger.warning("Could not fetch JWKS from %s: %s", url, error)
            return
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[entry.get("kid")] = jwt.PyJWK(entry)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
                logger.warning("Skipping unusable JWKS key %r: %s", entry.get("kid"), error)
        if keys:
            self._keys = keys
            self._fetched_at = now


jwks_cache = JWKSCache()
