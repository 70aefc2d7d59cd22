"""Reminders of a task (docs/API.md §7): what a client writes, when each fires, and its state.

A reminder is `{"before": "<ISO 8601 duration>"}` (relative to the task's due date) or
`{"at": "<RFC 3339>"}`. Durations take weeks, days, hours, minutes and seconds; days are calendar
days in the task's zone (a reminder one day before a 09:00 due date fires at 09:00 the day before,
even across a daylight-saving change), the time part is elapsed time.

State rules, applied by every write (services.py) so that the API, the admin and the commands agree:
- a new reminder is `pending`, or `skipped` when its `fire_at` has already passed or the task is
  completed;
- a reminder written again unchanged (same `before`, or same `at`) keeps its state and `sent_at`;
- a reminder whose `fire_at` moves (the due date or the zone changed) is re-armed unless it was
  sent: `pending`, or `skipped` by the first rule;
- completing a task skips its pending reminders; reopening it re-arms the skipped ones whose
  `fire_at` is still ahead.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError

from tasks.recurrence import zone

MAX_REMINDERS = 5
MAX_BEFORE = timedelta(days=30)
BEFORE_MAX_LENGTH = 32

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"

_DURATION = re.compile(
    r"P(?:(?P<weeks>\d{1,5})W)?(?:(?P<days>\d{1,5})D)?"
    r"(?:T(?:(?P<hours>\d{1,7})H)?(?:(?P<minutes>\d{1,9})M)?(?:(?P<seconds>\d{1,11})S)?)?"
)

BEFORE_FORMAT = (
    "Must be an ISO 8601 duration of weeks, days, hours, minutes and seconds from PT0S to P30D, "
    "such as PT15M or P1D."
)
BEFORE_TOO_LONG = "Must be at most P30D (30 days)."
NEEDS_DUE_DATE = "A reminder relative to the due date needs a due date."
KEEP_DUE_DATE = "This task has reminders relative to its due date: remove them to clear the due date."


@dataclass(frozen=True)
class ReminderSpec:
    """What a client writes: `before` (normalised duration) or `at` (UTC), never both."""

    before: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Duration:
    days: int
    seconds: int

    def text(self) -> str:
        """Normalised: days (weeks counted as 7 days), then H, M, S; zero is PT0S."""
        hours, rest = divmod(self.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
        text = "P" + (f"{self.days}D" if self.days else "") + (f"T{time}" if time else "")
        return "PT0S" if text == "P" else text


def parse_duration(value: object) -> Duration:
    if not isinstance(value, str):
        raise ValidationError(BEFORE_FORMAT, code="invalid")
    text = value.strip().upper()
    match = _DURATION.fullmatch(text) if len(text) <= BEFORE_MAX_LENGTH else None
    if match is None or text == "P" or text.endswith("T"):
        raise ValidationError(BEFORE_FORMAT, code="invalid")
    numbers = {name: int(group or 0) for name, group in match.groupdict().items()}
    days = numbers["weeks"] * 7 + numbers["days"]
    seconds = numbers["hours"] * 3600 + numbers["minutes"] * 60 + numbers["seconds"]
    if timedelta(days=days, seconds=seconds) > MAX_BEFORE:
        raise ValidationError(BEFORE_TOO_LONG, code="max_value")
    return Duration(days, seconds)


def normalize_before(value: object) -> str:
    return parse_duration(value).text()


def fire_at(spec: ReminderSpec, *, due_date: datetime | None, timezone_name: str) -> datetime | None:
    """When the reminder fires (UTC); None for a relative one on a task without due date."""
    if spec.at is not None:
        return spec.at
    if due_date is None:
        return None
    duration = parse_duration(spec.before)
    moment = due_date
    if duration.days:
        tz = zone(timezone_name)
        local = due_date.astimezone(tz).replace(tzinfo=None) - timedelta(days=duration.days)
        moment = local.replace(tzinfo=tz).astimezone(UTC)
    return moment - timedelta(seconds=duration.seconds)


@dataclass
class Row:
    """A stored reminder, or one about to be (id None)."""

    id: int | None
    before: str
    at: datetime | None
    fire_at: datetime | None
    state: str
    sent_at: datetime | None = None
    claimed_until: datetime | None = None

    @property
    def spec(self) -> ReminderSpec:
        return ReminderSpec(self.before, self.at)

    def as_item(self) -> dict:
        """The reminder as the API shows it (datetimes left to the renderer or `iso_utc`)."""
        first = {"before": self.before} if self.before else {"at": self.at}
        return {**first, "fire_at": self.fire_at, "state": self.state, "sent_at": self.sent_at}


def fresh_state(when: datetime | None, *, completed: bool, now: datetime) -> str:
    if completed or when is None or when <= now:
        return SKIPPED
    return PENDING


def settle(
    *,
    old: list[Row],
    specs: list[ReminderSpec],
    due_date: datetime | None,
    timezone_name: str,
    completed: bool,
    now: datetime,
) -> list[Row]:
    """The task's reminders after a write: `specs` in order (the list written, or the stored one
    again), each matched with the first unused stored reminder of the same spec."""
    unused = list(old)
    rows = []
    for spec in specs:
        when = fire_at(spec, due_date=due_date, timezone_name=timezone_name)
        match = next((row for row in unused if row.spec == spec), None)
        if match is None:
            rows.append(
                Row(None, spec.before, spec.at, when, fresh_state(when, completed=completed, now=now))
            )
            continue
        unused.remove(match)
        row = Row(match.id, spec.before, spec.at, when, match.state, match.sent_at, match.claimed_until)
        if match.state != SENT:
            if when != match.fire_at:  # moved: re-armed
                row.state, row.claimed_until = fresh_state(when, completed=completed, now=now), None
            elif completed and row.state == PENDING:
                row.state = SKIPPED
            elif not completed and row.state == SKIPPED and when is not None and when > now:
                row.state = PENDING
        rows.append(row)
    return rows


def after_completion(rows: list[Row], *, completed: bool, now: datetime) -> list[Row]:
    """The states after `completed` changed and nothing else did (the rule of `settle`)."""
    return [_flip(row, completed=completed, now=now) for row in rows]


def _flip(row: Row, *, completed: bool, now: datetime) -> Row:
    state = row.state
    if completed and state == PENDING:
        state = SKIPPED
    elif not completed and state == SKIPPED and row.fire_at is not None and row.fire_at > now:
        state = PENDING
    return Row(row.id, row.before, row.at, row.fire_at, state, row.sent_at, row.claimed_until)
