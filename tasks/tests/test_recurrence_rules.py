"""The RRULE subset of docs/API.md §6: normalisation, refusals naming the part, and expansion in the
task's zone (daylight-saving changes keep the wall-clock time)."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from tasks.recurrence import next_occurrence, normalize, occurrences_after, successor_recurrence


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def series(rule: str, first: datetime, n: int = 6, tz: str = "UTC", after: datetime | None = None):
    """The first n dates of the series anchored at `first`, after `after` (default: `first`)."""
    return occurrences_after(recurrence=rule, timezone_name=tz, anchor=first, after=after or first, limit=n)


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("freq=weekly;byday=mo,we", "FREQ=WEEKLY;BYDAY=MO,WE"),
        ("FREQ=DAILY;INTERVAL=1", "FREQ=DAILY"),
        (
            "COUNT=3;BYMONTH=2,1;INTERVAL=2;FREQ=MONTHLY;BYMONTHDAY=-1",
            "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=-1;BYMONTH=2,1;COUNT=3",
        ),
        ("FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=-1FR"),
        ("FREQ=YEARLY;BYDAY=+2MO;BYMONTH=5", "FREQ=YEARLY;BYDAY=2MO;BYMONTH=5"),
        ("FREQ=WEEKLY;UNTIL=20261231", "FREQ=WEEKLY;UNTIL=20261231"),
        ("FREQ=WEEKLY;until=20261231t170000z", "FREQ=WEEKLY;UNTIL=20261231T170000Z"),
        ("  FREQ=DAILY  ", "FREQ=DAILY"),
        ("FREQ=DAILY;INTERVAL=999;COUNT=1000", "FREQ=DAILY;INTERVAL=999;COUNT=1000"),
    ],
)
def test_rules_are_read_back_normalised(given, normalised):
    assert normalize(given) == normalised
    assert normalize(normalised) == normalised


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given more than once."),
        ("FREQ=HOURLY", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY."),
        ("FREQ=SECONDLY", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY."),
        ("INTERVAL=2", "FREQ is required: DAILY, WEEKLY, MONTHLY or YEARLY."),
        ("FREQ=DAILY;INTERVAL=1000", "INTERVAL must be a whole number from 1 to 999."),
        ("FREQ=DAILY;INTERVAL=99999999999999999999", "INTERVAL must be a whole number from 1 to 999."),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number from 1 to 999."),
        ("FREQ=DAILY;INTERVAL=-1", "INTERVAL must be a whole number from 1 to 999."),
        (
            "FREQ=MONTHLY;BYSETPOS=-1",
            "BYSETPOS is not supported; use FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, COUNT, UNTIL.",
        ),
        (
            "FREQ=DAILY;WKST=MO",
            "WKST is not supported; use FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, COUNT, UNTIL.",
        ),
        ("RRULE:FREQ=DAILY", "Give the rule without the RRULE: prefix, such as FREQ=WEEKLY;BYDAY=MO."),
        ("FREQ=DAILY;COUNT=2;UNTIL=20261231", "COUNT and UNTIL cannot both be given."),
        ("FREQ=DAILY;COUNT=0", "COUNT must be a whole number from 1 to 1000."),
        ("FREQ=DAILY;COUNT=1001", "COUNT must be a whole number from 1 to 1000."),
        ("FREQ=WEEKLY;BYDAY=-1FR", "A numbered BYDAY (such as -1FR) needs FREQ=MONTHLY or FREQ=YEARLY."),
        ("FREQ=MONTHLY;BYDAY=6MO", "BYDAY numbers must be from 1 to 5 or -5 to -1 with FREQ=MONTHLY."),
        (
            "FREQ=WEEKLY;BYDAY=XX",
            "BYDAY must list weekdays (MO, TU, WE, TH, FR, SA, SU), optionally numbered (-1FR).",
        ),
        ("FREQ=WEEKLY;BYDAY=", "BYDAY has no value."),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY values must be between -31 and 31, not 0."),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY values must be between -31 and 31, not 0."),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY cannot be used with FREQ=WEEKLY."),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH values must be between 1 and 12, not 0."),
        (
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "BYMONTHDAY names a day that none of the months in BYMONTH has.",
        ),
        (
            "FREQ=DAILY;UNTIL=2026-12-31",
            "UNTIL must be a UTC date-time such as 20261231T170000Z, or a date such as 20261231.",
        ),
        (
            "FREQ=DAILY;UNTIL=20261231T170000",
            "UNTIL must be a UTC date-time such as 20261231T170000Z, or a date such as 20261231.",
        ),
        ("FREQ=DAILY;UNTIL=20260230", "UNTIL is not a real date."),
        ("FREQ=DAILY;;", "Each part must be NAME=VALUE; '' is not."),
        ("FREQ", "Each part must be NAME=VALUE; 'FREQ' is not."),
        ("", "This field may not be blank; send null for a task that does not recur."),
        ("FREQ=DAILY\x00", "Control characters are not allowed."),
        ("FREQ=DAILY;" + "X" * 10_000, "Ensure this field has no more than 255 characters."),
        (42, "Must be a string such as FREQ=WEEKLY;BYDAY=MO."),
    ],
)
def test_each_refusal_names_the_part_that_is_wrong(given, message):
    with pytest.raises(ValidationError) as error:
        normalize(given)
    assert error.value.messages == [message]


def test_daily_and_interval():
    first = utc(2026, 3, 1, 9)
    assert series("FREQ=DAILY", first, 3) == [utc(2026, 3, 2, 9), utc(2026, 3, 3, 9), utc(2026, 3, 4, 9)]
    assert series("FREQ=DAILY;INTERVAL=10", first, 2) == [utc(2026, 3, 11, 9), utc(2026, 3, 21, 9)]


def test_weekly_on_given_days():
    first = utc(2026, 12, 7, 8)  # a Monday
    assert series("FREQ=WEEKLY;BYDAY=MO,WE", first, 4) == [
        utc(2026, 12, 9, 8),
        utc(2026, 12, 14, 8),
        utc(2026, 12, 16, 8),
        utc(2026, 12, 21, 8),
    ]


def test_monthly_on_the_31st_skips_months_without_one():
    first = utc(2027, 1, 31, 12)
    expected = [utc(2027, 3, 31, 12), utc(2027, 5, 31, 12), utc(2027, 7, 31, 12), utc(2027, 8, 31, 12)]
    assert series("FREQ=MONTHLY", first, 4) == expected
    assert series("FREQ=MONTHLY;BYMONTHDAY=31", first, 4) == expected


def test_monthly_on_the_last_day_with_a_negative_month_day():
    first = utc(2027, 1, 31, 12)
    assert series("FREQ=MONTHLY;BYMONTHDAY=-1", first, 3) == [
        utc(2027, 2, 28, 12),
        utc(2027, 3, 31, 12),
        utc(2027, 4, 30, 12),
    ]


def test_the_last_friday_of_each_month():
    first = utc(2026, 12, 25, 17)  # the last Friday of December 2026
    assert series("FREQ=MONTHLY;BYDAY=-1FR", first, 3) == [
        utc(2027, 1, 29, 17),
        utc(2027, 2, 26, 17),
        utc(2027, 3, 26, 17),
    ]


def test_yearly_on_february_29_only_in_leap_years():
    first = utc(2028, 2, 29, 10)
    assert series("FREQ=YEARLY", first, 2) == [utc(2032, 2, 29, 10), utc(2036, 2, 29, 10)]


def test_count_is_the_number_of_occurrences_left_including_this_one():
    first = utc(2026, 1, 1, 9)
    assert series("FREQ=DAILY;COUNT=3", first, 10) == [utc(2026, 1, 2, 9), utc(2026, 1, 3, 9)]
    assert series("FREQ=DAILY;COUNT=1", first, 10) == []
    assert successor_recurrence("FREQ=DAILY;COUNT=3") == "FREQ=DAILY;COUNT=2"
    assert successor_recurrence("FREQ=WEEKLY;BYDAY=MO") == "FREQ=WEEKLY;BYDAY=MO"


def test_a_successor_keeps_the_series_dates_anchored_at_the_first_due_date():
    anchor = utc(2027, 1, 31, 12)
    # The occurrence due March 31 comes after the anchor on the 31st, not after "March 31 + 1 month".
    assert next_occurrence(
        recurrence="FREQ=MONTHLY", timezone_name="UTC", anchor=anchor, after=utc(2027, 3, 31, 12)
    ) == utc(2027, 5, 31, 12)


def test_until_as_a_date_is_inclusive_in_the_task_zone():
    first = datetime(2026, 12, 29, 23, 30, tzinfo=UTC)  # 00:30 on the 30th in Berlin
    dates = series("FREQ=DAILY;UNTIL=20261231", first, 10, tz="Europe/Berlin")
    # Berlin dates Dec 31 and Jan 1 00:30: only Dec 31 is on or before the until date.
    assert dates == [datetime(2026, 12, 30, 23, 30, tzinfo=UTC)]


def test_until_as_a_utc_date_time():
    first = utc(2026, 12, 1, 9)
    assert series("FREQ=DAILY;UNTIL=20261203T090000Z", first, 10) == [
        utc(2026, 12, 2, 9),
        utc(2026, 12, 3, 9),
    ]
    assert series("FREQ=DAILY;UNTIL=20261203T085959Z", first, 10) == [utc(2026, 12, 2, 9)]


def test_berlin_09_00_stays_09_00_across_both_daylight_saving_changes():
    # Mondays at 09:00 Berlin: 08:00 UTC in winter, 07:00 UTC in summer.
    first = utc(2027, 3, 22, 8)  # Monday March 22, CET
    dates = series("FREQ=WEEKLY;BYDAY=MO", first, 2, tz="Europe/Berlin")
    assert dates == [utc(2027, 3, 29, 7), utc(2027, 4, 5, 7)]  # CEST from March 28
    # Back to CET on Sunday October 31.
    assert series("FREQ=WEEKLY", utc(2027, 10, 18, 7), 2, tz="Europe/Berlin") == [
        utc(2027, 10, 25, 7),
        utc(2027, 11, 1, 8),
    ]


def test_new_york_09_00_stays_09_00_across_daylight_saving():
    first = utc(2027, 3, 13, 14)  # Saturday 09:00 EST
    assert series("FREQ=DAILY", first, 2, tz="America/New_York") == [
        utc(2027, 3, 14, 13),
        utc(2027, 3, 15, 13),
    ]
    assert series("FREQ=DAILY", utc(2027, 11, 6, 13), 2, tz="America/New_York") == [
        utc(2027, 11, 7, 14),
        utc(2027, 11, 8, 14),
    ]


def test_in_utc_the_same_rule_keeps_utc_time():
    assert series("FREQ=WEEKLY", utc(2027, 3, 22, 8), 1) == [utc(2027, 3, 29, 8)]


def test_a_rule_whose_parts_never_meet_ends_quickly():
    # The fifth Friday is never the 1st: no occurrence, found without walking to the year 9999.
    assert series("FREQ=MONTHLY;BYDAY=5FR;BYMONTHDAY=1", utc(2026, 1, 1), 1) == []
    assert series("FREQ=YEARLY;BYDAY=53MO;BYMONTH=1", utc(2026, 1, 1), 1) == []


def test_occurrences_are_looked_for_400_years_ahead_at_most():
    first = utc(2026, 1, 1)
    assert series("FREQ=YEARLY;INTERVAL=100", first, 3) == [utc(2126, 1, 1), utc(2226, 1, 1), utc(2326, 1, 1)]
    assert series("FREQ=YEARLY;INTERVAL=999", first, 5) == []
