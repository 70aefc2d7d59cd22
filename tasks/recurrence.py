"""Recurring tasks (docs/API.md §6): the RRULE subset we accept, read back normalised, and its
expansion in the task's time zone.

A rule is parsed by hand, part by part, so that every refusal names the part that is wrong (and so
that nothing outside the subset reaches python-dateutil, whose parser accepts far more). Expansion
uses dateutil's `rrule` over *local* wall-clock times of the task's zone, anchored at the series'
first due date: "every Monday at 09:00 Europe/Berlin" stays 09:00 in Berlin across daylight-saving
changes, and each local time is turned into an instant only at the end.

`COUNT` is the number of occurrences left including the task that carries it (the successor's is
one less); the dates are always those of the series anchored at its first due date.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from dateutil import rrule as du
from django.core.exceptions import ValidationError

from tasks.rules import has_control_characters

RECURRENCE_MAX_LENGTH = 255
TIMEZONE_MAX_LENGTH = 64
FREQUENCIES = {"DAILY": du.DAILY, "WEEKLY": du.WEEKLY, "MONTHLY": du.MONTHLY, "YEARLY": du.YEARLY}
PART_ORDER = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "COUNT", "UNTIL")
WEEKDAYS = {"MO": du.MO, "TU": du.TU, "WE": du.WE, "TH": du.TH, "FR": du.FR, "SA": du.SA, "SU": du.SU}
MAX_INTERVAL = 999
MAX_COUNT = 1000
# The longest month each month can be: a BYMONTHDAY no chosen month has is a rule that never occurs.
_MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
# How far ahead occurrences are looked for, in years. dateutil stops looking only at the year 9999:
# a rule whose parts never meet (BYDAY=5FR;BYMONTHDAY=1, or INTERVAL=12;BYMONTH=2 from a January
# anchor) would walk there, period by period, for seconds. The search is moved by whole 400-year
# Gregorian cycles (which repeat the calendar exactly: weekdays, leap days) to end near 9999, so such
# a rule costs at most these many years of walking; a series whose next date lies further ahead is over.
_SEARCH_YEARS = {"DAILY": 30, "WEEKLY": 100, "MONTHLY": 200, "YEARLY": 400}
_CYCLE_YEARS = 400

_BYDAY_ITEM = re.compile(r"([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_INTEGER = re.compile(r"[+-]?\d{1,4}")
_UNTIL_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_UNTIL_DATETIME = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")

UNKNOWN_TIMEZONE = "Unknown time zone; use an IANA name such as Europe/Berlin."
RECURRENCE_NEEDS_DUE_DATE = "A recurring task needs a due date."


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def clean_timezone(value: object) -> str:
    """An IANA zone name known to this system, as given (names are case-sensitive)."""
    if not isinstance(value, str):
        raise ValidationError("Must be a string.", code="invalid")
    if len(value) > TIMEZONE_MAX_LENGTH or has_control_characters(value) or value not in _zone_names():
        raise ValidationError(UNKNOWN_TIMEZONE, code="invalid")
    return value


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class Rule:
    freq: str
    interval: int = 1
    byday: tuple[tuple[int, str], ...] = ()  # (ordinal or 0, weekday)
    bymonthday: tuple[int, ...] = ()
    bymonth: tuple[int, ...] = ()
    count: int | None = None
    until: str | None = None  # as written: YYYYMMDD or YYYYMMDDTHHMMSSZ

    def text(self) -> str:
        """The normalised rule: upper case, parts in PART_ORDER, INTERVAL=1 left out."""
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.byday:
            parts.append("BYDAY=" + ",".join(f"{n}{day}" if n else day for n, day in self.byday))
        if self.bymonthday:
            parts.append("BYMONTHDAY=" + ",".join(str(n) for n in self.bymonthday))
        if self.bymonth:
            parts.append("BYMONTH=" + ",".join(str(n) for n in self.bymonth))
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.until is not None:
            parts.append(f"UNTIL={self.until}")
        return ";".join(parts)


def _invalid(message: str) -> ValidationError:
    return ValidationError(message, code="invalid")


def _integers(name: str, text: str, low: int, high: int, *, zero: bool = True) -> tuple[int, ...]:
    values = []
    for item in text.split(","):
        if not _INTEGER.fullmatch(item):
            raise _invalid(f"{name} must be a comma-separated list of numbers.")
        number = int(item)
        if not (low <= number <= high) or (number == 0 and not zero):
            raise _invalid(f"{name} values must be between {low} and {high}{'' if zero else ', not 0'}.")
        values.append(number)
    return tuple(dict.fromkeys(values))


def _positive(name: str, text: str, high: int) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 4 or not 1 <= int(text) <= high:
        raise _invalid(f"{name} must be a whole number from 1 to {high}.")
    return int(text)


def parse(value: object) -> Rule:
    """The rule of an RRULE value (without the `RRULE:` prefix); ValidationError naming the part."""
    if not isinstance(value, str):
        raise _invalid("Must be a string such as FREQ=WEEKLY;BYDAY=MO.")
    text = value.strip()
    if len(text) > RECURRENCE_MAX_LENGTH:
        raise _invalid(f"Ensure this field has no more than {RECURRENCE_MAX_LENGTH} characters.")
    if has_control_characters(text):
        raise _invalid("Control characters are not allowed.")
    if not text:
        raise _invalid("This field may not be blank; send null for a task that does not recur.")
    upper = text.upper()
    if upper.startswith("RRULE:"):
        raise _invalid("Give the rule without the RRULE: prefix, such as FREQ=WEEKLY;BYDAY=MO.")
    parts: dict[str, str] = {}
    for chunk in upper.split(";"):
        name, sep, part_value = chunk.partition("=")
        if not sep or not name:
            raise _invalid(f"Each part must be NAME=VALUE; {chunk[:20]!r} is not.")
        if name not in PART_ORDER:
            raise _invalid(f"{name[:20]} is not supported; use {', '.join(PART_ORDER)}.")
        if name in parts:
            raise _invalid(f"{name} is given more than once.")
        if not part_value:
            raise _invalid(f"{name} has no value.")
        parts[name] = part_value
    if "FREQ" not in parts:
        raise _invalid("FREQ is required: DAILY, WEEKLY, MONTHLY or YEARLY.")
    freq = parts["FREQ"]
    if freq not in FREQUENCIES:
        raise _invalid("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY.")
    interval = _positive("INTERVAL", parts["INTERVAL"], MAX_INTERVAL) if "INTERVAL" in parts else 1
    byday = _byday(parts["BYDAY"], freq) if "BYDAY" in parts else ()
    bymonthday = ()
    if "BYMONTHDAY" in parts:
        if freq == "WEEKLY":
            raise _invalid("BYMONTHDAY cannot be used with FREQ=WEEKLY.")
        bymonthday = _integers("BYMONTHDAY", parts["BYMONTHDAY"], -31, 31, zero=False)
    bymonth = _integers("BYMONTH", parts["BYMONTH"], 1, 12, zero=False) if "BYMONTH" in parts else ()
    if "COUNT" in parts and "UNTIL" in parts:
        raise _invalid("COUNT and UNTIL cannot both be given.")
    count = _positive("COUNT", parts["COUNT"], MAX_COUNT) if "COUNT" in parts else None
    until = _until(parts["UNTIL"]) if "UNTIL" in parts else None
    if bymonthday and bymonth and all(abs(d) > _MONTH_DAYS[m] for d in bymonthday for m in bymonth):
        raise _invalid("BYMONTHDAY names a day that none of the months in BYMONTH has.")
    return Rule(freq, interval, byday, bymonthday, bymonth, count, until)


def _byday(text: str, freq: str) -> tuple[tuple[int, str], ...]:
    items = []
    for item in text.split(","):
        match = _BYDAY_ITEM.fullmatch(item)
        if match is None:
            raise _invalid(
                "BYDAY must list weekdays (MO, TU, WE, TH, FR, SA, SU), optionally numbered (-1FR)."
            )
        sign, number, day = match.groups()
        if sign and number is None:
            raise _invalid(
                "BYDAY must list weekdays (MO, TU, WE, TH, FR, SA, SU), optionally numbered (-1FR)."
            )
        ordinal = int(number) * (-1 if sign == "-" else 1) if number is not None else 0
        if number is not None:
            if freq not in {"MONTHLY", "YEARLY"}:
                raise _invalid("A numbered BYDAY (such as -1FR) needs FREQ=MONTHLY or FREQ=YEARLY.")
            high = 5 if freq == "MONTHLY" else 53
            if not 1 <= abs(ordinal) <= high:
                raise _invalid(f"BYDAY numbers must be from 1 to {high} or -{high} to -1 with FREQ={freq}.")
        items.append((ordinal, day))
    return tuple(dict.fromkeys(items))


def _until(text: str) -> str:
    match = _UNTIL_DATETIME.fullmatch(text) or _UNTIL_DATE.fullmatch(text)
    if match is None:
        raise _invalid("UNTIL must be a UTC date-time such as 20261231T170000Z, or a date such as 20261231.")
    try:
        numbers = [int(group) for group in match.groups()]
        datetime(*numbers)
    except ValueError:
        raise _invalid("UNTIL is not a real date.") from None
    return text


def normalize(value: object) -> str | None:
    """The normalised text of a rule, None for None; ValidationError naming what is wrong."""
    if value is None:
        return None
    return parse(value).text()


# --- Expansion ------------------------------------------------------------------------------------
def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _instant(local: datetime, tz: ZoneInfo) -> datetime:
    # A wall-clock time skipped by a daylight-saving change is read with the offset before it (the
    # instant it names is the hour after); a repeated one is its first instance (fold=0).
    return local.replace(tzinfo=tz).astimezone(UTC)


def _until_local(rule: Rule, tz: ZoneInfo) -> datetime | None:
    if rule.until is None:
        return None
    if len(rule.until) == 8:  # a date: inclusive, the whole day in the task's zone
        day = date(int(rule.until[:4]), int(rule.until[4:6]), int(rule.until[6:]))
        return datetime.combine(day, datetime.max.time())
    moment = datetime.strptime(rule.until, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return _local(moment, tz)


def _rrule(rule: Rule, anchor_local: datetime, until_local: datetime | None) -> du.rrule:
    return du.rrule(
        FREQUENCIES[rule.freq],
        dtstart=anchor_local,
        interval=rule.interval,
        byweekday=[WEEKDAYS[day](n) if n else WEEKDAYS[day] for n, day in rule.byday] or None,
        bymonthday=rule.bymonthday or None,
        bymonth=rule.bymonth or None,
        until=until_local,
        cache=False,
    )


def _shift(moment: datetime | None, years: int) -> datetime | None:
    return moment if moment is None or not years else moment.replace(year=moment.year + years)


def occurrences_after(
    *, recurrence: str, timezone_name: str, anchor: datetime, after: datetime, limit: int
) -> list[datetime]:
    """Up to `limit` dates (UTC) of the series anchored at `anchor` strictly after `after`, within
    its COUNT (occurrences left counting the task due at `after`) and UNTIL."""
    rule = parse(recurrence)
    if rule.count is not None:
        limit = min(limit, rule.count - 1)
    if limit <= 0:
        return []
    tz = zone(timezone_name)
    after_local = _local(after, tz)
    last_year = 9999 - _SEARCH_YEARS[rule.freq]
    shift = max(0, (last_year - max(after_local.year, anchor.year)) // _CYCLE_YEARS) * _CYCLE_YEARS
    expansion = _rrule(rule, _shift(_local(anchor, tz), shift), _shift(_until_local(rule, tz), shift))
    found: list[datetime] = []
    for shifted in expansion.xafter(_shift(after_local, shift), count=None, inc=False):
        instant = _instant(_shift(shifted, -shift), tz)
        if instant <= after:  # a repeated wall-clock hour can map back before `after`
            continue
        found.append(instant)
        if len(found) >= limit:
            break
    return found


def next_occurrence(
    *, recurrence: str, timezone_name: str, anchor: datetime, after: datetime
) -> datetime | None:
    """The due date of the successor of the task due at `after`, or None when the series is over."""
    found = occurrences_after(
        recurrence=recurrence, timezone_name=timezone_name, anchor=anchor, after=after, limit=1
    )
    return found[0] if found else None


def successor_recurrence(recurrence: str) -> str:
    """The rule the successor carries: COUNT one less (the caller spawns only while COUNT > 1)."""
    rule = parse(recurrence)
    if rule.count is None:
        return rule.text()
    return Rule(**{**rule.__dict__, "count": rule.count - 1}).text()
