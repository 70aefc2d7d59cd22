"""Waking workers without ever failing the caller for it.

Background work is found by the workers' periodic scans (the database is the source of truth), so a
message is only a shortcut: when the broker is down the write still succeeds, a warning is logged,
and the next scan does the work.
"""

import logging
import time

from celery import Task

logger = logging.getLogger(__name__)

# After a failed publish, skip publishing for this long: a broker that is down costs a web request
# one failed attempt every few seconds per process, not a connection timeout each.
BROKER_DOWN_BACKOFF_SECONDS = 10.0
_broker_down_until = 0.0


def enqueue(task: Task, *args, **kwargs) -> bool:
    """Publish `task(*args, **kwargs)` once, without retrying; False (and a warning) if it failed."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return False
    try:
        task.apply_async(args, kwargs, retry=False)
    except Exception as error:  # the broker's client raises many kinds; none may fail the caller
        _broker_down_until = time.monotonic() + BROKER_DOWN_BACKOFF_SECONDS
        logger.warning("Could not publish %s (%s); the periodic scan will do the work.", task.name, error)
        return False
    return True
