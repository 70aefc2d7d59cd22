"""A per-process cache of the users that tokens name, so a known user costs no query per request.

An entry is trusted for `AUTH_USER_CACHE_SECONDS` (default 5; 0 turns the cache off) and only for
the exact `email` and `name` claims it was synced with: a token carrying other values goes through
`user_sync_from_claims` again. Any save or delete of a user drops its entry in this process at once,
and, when `REDIS_URL` is set, in every other process too: the change is published on a Redis channel
that each process listens to on a background thread. So a deactivation takes effect everywhere at
once with Redis, and within `AUTH_USER_CACHE_SECONDS` without it (or while Redis is unreachable).
"""

import logging
import os
import threading
import time
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import User

logger = logging.getLogger(__name__)

MAX_ENTRIES = 10_000


class UserCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, User, Any, Any]] = {}
        self._listener_pid: int | None = None
        self._listener_lock = threading.Lock()

    # --- reads and writes -------------------------------------------------------------------
    def get(self, user_id: str, email: Any, name: Any) -> User | None:
        """The cached user if it was synced from these very claims and is still fresh."""
        entry = self._entries.get(user_id)
        if entry is None:
            self._ensure_listener()
            return None
        expires, user, cached_email, cached_name = entry
        if expires < time.monotonic() or cached_email != email or cached_name != name:
            return None
        return user

    def put(self, user: User, email: Any, name: Any) -> None:
        ttl = settings.AUTH_USER_CACHE_SECONDS
        if ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # rare: more distinct users within seconds than we keep
        self._entries[user.pk] = (time.monotonic() + ttl, user, email, name)

    def discard(self, user_id: str) -> None:
        self._entries.pop(user_id, None)

    def clear(self) -> None:
        self._entries.clear()

    # --- invalidation across processes --------------------------------------------------------
    def channel(self) -> str:
        return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:accounts:user-changed"

    def publish_change(self, user_id: str) -> None:
        """Tell every process (this one included) to forget `user_id`."""
        self.discard(user_id)
        if not settings.REDIS_URL:
            return
        try:
            _redis_client().publish(self.channel(), user_id)
        except Exception:
            # The cache's time bound still holds; the user's change is committed either way.
            logger.warning("Could not publish a user change to Redis", exc_info=True)

    def _ensure_listener(self) -> None:
        if not settings.REDIS_URL or self._listener_pid == os.getpid():
            return
        with self._listener_lock:
            if self._listener_pid == os.getpid():
                return
            self._listener_pid = os.getpid()  # a forked worker starts its own listener
            thread = threading.Thread(target=self._listen, name="user-cache-invalidation", daemon=True)
            thread.start()

    def _listen(self) -> None:
        backoff = 0.5
        while True:
            try:
                pubsub = _redis_client(listener=True).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel())
                # Changes published while we were not subscribed are lost: forget everything.
                self.clear()
                backoff = 0.5
                for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        self.discard(data.decode())
            except Exception:
                logger.warning("User cache invalidation: Redis unreachable; retrying", exc_info=True)
                self.clear()
                time.sleep(backoff)
                backoff = min(backoff * 2, 30)


def _redis_client(*, listener: bool = False):
    import redis

    timeout = settings.REDIS_TIMEOUT_SECONDS
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=timeout,
        # The listener blocks on its socket for as long as nothing is published; keepalive pings
        # (health_check_interval) notice a dead connection.
        socket_timeout=None if listener else timeout,
        health_check_interval=30 if listener else 0,
    )


user_cache = UserCache()


def forget_user_on_change(sender, instance: User, **kwargs) -> None:
    """Drop the user from this process's cache now (so this process never serves the old row
    again), and from every process's once the change is committed."""
    user_cache.discard(instance.pk)
    user_id = instance.pk
    transaction.on_commit(lambda: user_cache.publish_change(user_id), robust=True)
