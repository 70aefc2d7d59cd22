"""Helpers shared by the tasks app's management commands (the leading underscore hides it from Django)."""

import argparse
import contextlib
import time
from datetime import UTC, date, datetime
from datetime import time as dtime

from django.core.management.base import CommandError
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import User
from accounts.selectors import user_find


class Progress:
    """A one-line progress bar on stderr for long runs; silent when `enabled` is false.

    On a terminal it redraws in place; elsewhere (CI logs, pipes) it prints a line every 10 %.
    """

    WIDTH = 30

    def __init__(self, stream, total: int, label: str, enabled: bool = True):
        self.stream, self.total, self.label = stream, max(total, 0), label
        self.enabled = enabled and total > 0
        self.done = 0
        self.started = time.monotonic()
        self._last_decile = -1
        self._tty = bool(getattr(getattr(stream, "_out", stream), "isatty", lambda: False)())

    def advance(self, count: int) -> None:
        self.done = min(self.total, self.done + count)
        if not self.enabled:
            return
        fraction = self.done / self.total
        decile = int(fraction * 10)
        if not self._tty and decile == self._last_decile and self.done < self.total:
            return
        self._last_decile = decile
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.started
        line = f"{self.label} [{bar}] {self.done}/{self.total} {fraction:4.0%} {elapsed:.1f}s"
        if self._tty:
            self.stream.write("\r" + line, ending="")
            self.stream.flush()
        else:
            self.stream.write(line)

    def finish(self) -> None:
        if self.enabled and self._tty:
            self.stream.write("")


def parse_date_arg(value: str) -> datetime:
    """An ISO date (midnight UTC) or an ISO datetime with an offset, for argparse `type=`."""
    parsed_datetime = None
    with contextlib.suppress(ValueError):
        parsed_datetime = parse_datetime(value)
    if parsed_datetime is not None:
        if parsed_datetime.tzinfo is None:
            parsed_datetime = parsed_datetime.replace(tzinfo=UTC)
        return parsed_datetime
    try:
        parsed_date: date | None = parse_date(value)
    except ValueError:
        parsed_date = None
    if parsed_date is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO datetime.")
    return datetime.combine(parsed_date, dtime.min, tzinfo=UTC)


def get_user(user_id: str, option: str = "user") -> User:
    user = user_find(user_id=user_id)
    if user is None:
        raise CommandError(f"No user with id {user_id!r} ({option}).")
    return user
