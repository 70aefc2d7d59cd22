"""A task body read directly (TaskWriteSerializer.parse) gives exactly what the serializer gives, and
whatever the direct reading does not plainly accept is judged, and worded, by the serializer."""

import pytest
from rest_framework.exceptions import ValidationError

from tasks.api.serializers import TaskWriteSerializer


def through_serializer(data, partial=False):
    serializer = TaskWriteSerializer(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


VALID = [
    {"title": "Buy milk"},
    {"title": "  padded  ", "description": "  kept as is\n\twith tabs\r  "},
    {"title": "t" * 200, "description": "d" * 1000},
    {"title": "Due", "due_date": "2026-12-01T17:00:00Z", "priority": "high", "completed": True},
    {"title": "Offset", "due_date": "2026-12-01T17:00:00.123456+02:00"},
    {"title": "No due", "due_date": None, "priority": "none", "completed": False},
    {"title": "Tags", "tags": ["home", " Work ", "HOME", "x" * 50]},
    {"title": "No tags", "tags": []},
    {"title": "Extra", "id": 5, "user_id": "someone", "version": 9, "unknown": [1]},
    {"title": "Emoji 🚀 and \u200d joiners"},
    {"title": "Recurs", "due_date": "2026-12-01T17:00:00Z", "recurrence": "freq=weekly;byday=mo;interval=1"},
    {"title": "No rule", "recurrence": None, "timezone": "America/New_York"},
    {"title": "Rule", "recurrence": "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", "timezone": "Europe/Berlin"},
    {"title": "Reminders", "reminders": [{"before": "pt90m"}, {"at": "2026-12-01T17:00:00+01:00"}]},
    {
        "title": "Read back",
        "reminders": [{"before": "P1W", "fire_at": "x", "state": "sent", "sent_at": None}],
    },
    {"title": "No reminders", "reminders": []},
]


@pytest.mark.parametrize("body", VALID, ids=range(len(VALID)))
def test_the_direct_reading_equals_the_serializers(body):
    assert TaskWriteSerializer.parse(body) == through_serializer(body)


@pytest.mark.parametrize("body", [{}, {"priority": "low"}, {"tags": ["a"], "completed": True}])
def test_partial_bodies_equal_the_serializers(body):
    assert TaskWriteSerializer.parse(body, partial=True) == through_serializer(body, partial=True)


INVALID = [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": None}, "title"),
    ({"title": 5}, "title"),
    ({"title": "t" * 201}, "title"),
    ({"title": "nul\x00"}, "title"),
    ({"title": "ok", "description": "bell\x07"}, "description"),
    ({"title": "ok", "description": "d" * 1001}, "description"),
    ({"title": "ok", "completed": "true"}, "completed"),
    ({"title": "ok", "priority": "urgent"}, "priority"),
    ({"title": "ok", "due_date": "2026-12-01"}, "due_date"),
    ({"title": "ok", "due_date": "2026-12-01T17:00:00"}, "due_date"),
    ({"title": "ok", "due_date": "2026-02-30T17:00:00Z"}, "due_date"),
    ({"title": "ok", "tags": "home"}, "tags"),
    ({"title": "ok", "tags": [""]}, "tags"),
    ({"title": "ok", "tags": ["x" * 51]}, "tags"),
    ({"title": "ok", "tags": [f"t{n}" for n in range(21)]}, "tags"),
    ({"title": "ok", "tags": [1]}, "tags"),
    ({"title": "ok", "recurrence": "FREQ=DAILY;FREQ=WEEKLY"}, "recurrence"),
    ({"title": "ok", "recurrence": "RRULE:FREQ=DAILY"}, "recurrence"),
    ({"title": "ok", "recurrence": 5}, "recurrence"),
    ({"title": "ok", "timezone": "../etc/passwd"}, "timezone"),
    ({"title": "ok", "timezone": None}, "timezone"),
    ({"title": "ok", "reminders": [{"before": "P1M"}]}, "reminders"),
    ({"title": "ok", "reminders": [{"at": "2026-12-01T17:00:00"}]}, "reminders"),
    ({"title": "ok", "reminders": [{}] * 6}, "reminders"),
    ({"title": "ok", "reminders": {"before": "PT1M"}}, "reminders"),
]


@pytest.mark.parametrize(("body", "field"), INVALID, ids=[field for _, field in INVALID])
def test_what_the_direct_reading_refuses_is_worded_by_the_serializer(body, field):
    with pytest.raises(ValidationError) as raised:
        TaskWriteSerializer.parse(body)

    assert field in raised.value.detail


@pytest.mark.parametrize("body", [[], "text", 5, None])
def test_a_body_that_is_not_an_object_is_the_serializers_to_refuse(body):
    with pytest.raises(ValidationError) as raised:
        TaskWriteSerializer.parse(body)

    assert "non_field_errors" in raised.value.detail
