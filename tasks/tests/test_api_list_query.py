"""The list's parameters read directly (TaskListQuerySerializer.parse) give exactly what the serializer
gives, and whatever the direct reading does not plainly accept goes to the serializer (its errors)."""

import pytest
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from tasks.api.serializers import TaskListQuerySerializer


def through_serializer(query: QueryDict):
    serializer = TaskListQuerySerializer(data=query)
    serializer.is_valid(raise_exception=True)
    return serializer.to_params()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "limit=50",
        "limit=500",
        "limit=1",
        "limit=050",
        "sort=-due_date&status=pending",
        "status=completed&sort=title",
        "tag=home&tag=Work&tag=%20padded%20",
        "priority=high,%20low",
        "cursor=abc.def",
        "unknown=1&limit=7",
        "tag=" + "x" * 50,
    ],
)
def test_the_direct_reading_equals_the_serializers(query):
    parsed = QueryDict(query)

    assert TaskListQuerySerializer.parse(parsed) == through_serializer(parsed)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("sort=sideways", "sort"),
        ("status=maybe", "status"),
        ("priority=urgent", "priority"),
        ("tag=", "tag"),
        ("tag=" + "x" * 51, "tag"),
        ("tag=a%01b", "tag"),
        ("cursor=", "cursor"),
        ("cursor=" + "c" * 2049, "cursor"),
        ("overdue=perhaps", "overdue"),
        ("due_before=2026-12-01", "due_before"),
    ],
)
def test_what_the_direct_reading_refuses_is_worded_by_the_serializer(query, field):
    with pytest.raises(ValidationError) as raised:
        TaskListQuerySerializer.parse(QueryDict(query))

    assert field in raised.value.detail


def test_repeated_single_valued_parameters_take_the_serializers_reading():
    parsed = QueryDict("limit=5&limit=7")

    assert TaskListQuerySerializer.parse(parsed) == through_serializer(parsed)
