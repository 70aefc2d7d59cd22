"""GET /api/<user_id>/tasks/ filters: status, priority, tag, search, due range, overdue, updated_since."""

from datetime import UTC, datetime, timedelta

import pytest

from core.tests.support import assert_problem
from tasks.tests.api_support import create_task, tasks_url

pytestmark = pytest.mark.django_db

PAST = "2020-01-01T10:00:00Z"
FUTURE = "2999-01-01T10:00:00Z"


@pytest.fixture
def tasks(auth_client, user):
    """Five tasks covering every filter, by a short name."""
    specs = {
        "milk": dict(
            title="Buy milk", description="2% fat", priority="low", tags=["Home", "errands"], due_date=PAST
        ),
        "report": dict(
            title="Write report",
            description="Quarterly numbers",
            priority="high",
            tags=["work"],
            due_date=FUTURE,
        ),
        "call": dict(title="Call mom", priority="medium", tags=["home", "family"], completed=True),
        "tax": dict(
            title="File taxes",
            description="100% before April",
            priority="high",
            tags=["money", "HOME", "work"],
            due_date=PAST,
            completed=True,
        ),
        "fix": dict(title="fix_bug", description="in the parser", priority="none", due_date=FUTURE),
    }
    return {name: create_task(auth_client, user.pk, **spec) for name, spec in specs.items()}


def listed(client, user, tasks, **params):
    response = client.get(tasks_url(user.pk), params)
    assert response.status_code == 200, response.content
    by_id = {task["id"]: name for name, task in tasks.items()}
    found = [task["id"] for task in response.json()]
    assert len(found) == len(set(found)), "a task is listed twice"
    names = {by_id[task_id] for task_id in found}
    assert int(response["X-Total-Count"]) == len(names)
    return names


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
def test_list_without_filters_returns_every_task_as_a_plain_array(auth_client, user, tasks, slash):
    response = auth_client.get(tasks_url(user.pk, slash=slash))

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert {task["id"] for task in body} == {task["id"] for task in tasks.values()}
    assert response["X-Total-Count"] == "5"
    assert body[0] == tasks["fix"]


def test_empty_list_is_an_empty_array_with_total_zero(auth_client, user):
    response = auth_client.get(tasks_url(user.pk))

    assert response.json() == []
    assert response["X-Total-Count"] == "0"
    assert "next" not in response.get("Link", "")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("all", {"milk", "report", "call", "tax", "fix"}),
        ("pending", {"milk", "report", "fix"}),
        ("completed", {"call", "tax"}),
    ],
)
def test_status_filter(auth_client, user, tasks, status, expected):
    assert listed(auth_client, user, tasks, status=status) == expected


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        ("high", {"report", "tax"}),
        ("none", {"fix"}),
        ("low,high", {"milk", "report", "tax"}),
        ("none,low,medium,high", {"milk", "report", "call", "tax", "fix"}),
    ],
)
def test_priority_filter_takes_one_value_or_a_comma_separated_list(
    auth_client, user, tasks, priority, expected
):
    assert listed(auth_client, user, tasks, priority=priority) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["home"], {"milk", "call", "tax"}),
        (["HOME"], {"milk", "call", "tax"}),
        (["Work"], {"report", "tax"}),
        (["home", "work"], {"tax"}),
        (["home", "WORK", "money"], {"tax"}),
        (["home", "nowhere"], set()),
        (["nowhere"], set()),
    ],
)
def test_tag_filter_is_repeatable_and_a_task_must_carry_every_tag(auth_client, user, tasks, tags, expected):
    assert listed(auth_client, user, tasks, tag=tags) == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("MILK", {"milk"}),
        ("quarterly", {"report"}),
        ("Report", {"report"}),
        ("a", {"milk", "report", "call", "tax", "fix"}),
        ("%", {"milk", "tax"}),
        ("100%", {"tax"}),
        ("_", {"fix"}),
        ("x_b", {"fix"}),
        ("nothing here", set()),
    ],
)
def test_search_matches_title_or_description_case_insensitively_and_literally(
    auth_client, user, tasks, search, expected
):
    assert listed(auth_client, user, tasks, search=search) == expected


def test_search_matches_non_ascii_case_insensitively(auth_client, user):
    task = create_task(auth_client, user.pk, title="\u00c9t\u00e9 \u00e0 Z\u00fcrich")
    create_task(auth_client, user.pk, title="Winter")

    response = auth_client.get(tasks_url(user.pk), {"search": "Z\u00dcRICH"})

    assert [found["id"] for found in response.json()] == [task["id"]]


def test_tag_filter_matches_non_ascii_tags_case_insensitively(auth_client, user):
    task = create_task(auth_client, user.pk, title="sorry", tags=["\u00c4rger", "\u00c9t\u00e9"])
    create_task(auth_client, user.pk, title="other", tags=["arger"])

    response = auth_client.get(tasks_url(user.pk), {"tag": ["\u00e4RGER", "\u00e9T\u00c9"]})

    assert [found["id"] for found in response.json()] == [task["id"]]


@pytest.mark.parametrize(
    "param", ["search", "tag", "priority", "status", "sort", "due_before", "updated_since"]
)
@pytest.mark.parametrize(
    "raw",
    ["%00", "a%00b", "%1B", "%ED%A0%80", "%FF%FE"],
    ids=["NUL", "inner-NUL", "ESC", "surrogate", "not-utf8"],
)
def test_control_characters_or_bad_bytes_in_a_parameter_are_never_a_500(auth_client, user, tasks, param, raw):
    # Percent-encoded as a client sends it; the test client cannot encode a lone surrogate itself.
    response = auth_client.get(f"{tasks_url(user.pk)}?{param}={raw}")

    if response.status_code != 200:
        assert_problem(response, 400, "validation_error", param)
    else:
        assert response.json() == []


@pytest.mark.parametrize("param", ["due_before", "due_after", "updated_since"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-05:00"])
def test_a_date_time_parameter_outside_the_representable_range_is_400(auth_client, user, param, value):
    assert_problem(auth_client.get(tasks_url(user.pk), {param: value}), 400, "validation_error", param)


def test_a_very_long_search_is_not_a_500(auth_client, user, tasks):
    response = auth_client.get(tasks_url(user.pk), {"search": "milk" * 2000})

    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert_problem(response, 400, "validation_error", "search")


@pytest.mark.parametrize(
    ("overdue", "expected"),
    [("true", {"milk"}), ("false", {"report", "call", "tax", "fix"})],
)
def test_overdue_filter(auth_client, user, tasks, overdue, expected):
    assert listed(auth_client, user, tasks, overdue=overdue) == expected


def test_filters_combine_and_the_total_counts_all_matches(auth_client, user, tasks):
    assert listed(auth_client, user, tasks, status="pending", priority="high,low", tag="home") == {"milk"}
    assert listed(auth_client, user, tasks, status="completed", search="TAX", overdue="false") == {"tax"}


def test_total_count_counts_every_match_not_the_page(auth_client, user, tasks):
    response = auth_client.get(tasks_url(user.pk), {"status": "pending", "limit": 1})

    assert len(response.json()) == 1
    assert response["X-Total-Count"] == "3"


# --- due range -----------------------------------------------------------------------------------
@pytest.fixture
def dues(auth_client, user):
    moment = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    offsets = {"before": -1, "at": 0, "after": 1}
    created = {
        name: create_task(
            auth_client, user.pk, title=name, due_date=(moment + timedelta(seconds=s)).isoformat()
        )
        for name, s in offsets.items()
    }
    created["micro-before"] = create_task(
        auth_client, user.pk, title="micro", due_date=(moment - timedelta(microseconds=1)).isoformat()
    )
    created["undated"] = create_task(auth_client, user.pk, title="undated")
    return created


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"due_after": "2026-12-01T17:00:00Z"}, {"at", "after"}),
        ({"due_after": "2026-12-01T19:00:00+02:00"}, {"at", "after"}),
        ({"due_before": "2026-12-01T17:00:00Z"}, {"before", "micro-before"}),
        ({"due_before": "2026-12-01T12:00:00-05:00"}, {"before", "micro-before"}),
        (
            {"due_after": "2026-12-01T16:59:59Z", "due_before": "2026-12-01T17:00:01Z"},
            {"before", "at", "micro-before"},
        ),
        ({"due_after": "2026-12-01T17:00:00Z", "due_before": "2026-12-01T17:00:00Z"}, set()),
        ({"due_after": "2000-01-01T00:00:00Z"}, {"before", "at", "after", "micro-before"}),
        ({"due_before": "2999-01-01T00:00:00Z"}, {"before", "at", "after", "micro-before"}),
    ],
)
def test_due_range_is_after_inclusive_before_exclusive_and_excludes_undated(
    auth_client, user, dues, params, expected
):
    assert listed(auth_client, user, dues, **params) == expected


# --- updated_since -------------------------------------------------------------------------------
def test_updated_since_returns_tasks_changed_strictly_after_it(auth_client, user):
    first = create_task(auth_client, user.pk, title="first")
    second = create_task(auth_client, user.pk, title="second")
    third = create_task(auth_client, user.pk, title="third")
    first = auth_client.patch(
        tasks_url(user.pk, first["id"]), {"title": "first, edited"}, format="json"
    ).json()
    everything = {"first": first, "second": second, "third": third}

    assert listed(auth_client, user, everything, updated_since=second["updated_at"]) == {"third", "first"}
    assert listed(auth_client, user, everything, updated_since=first["updated_at"]) == set()
    assert listed(auth_client, user, everything, updated_since="2000-01-01T00:00:00+05:00") == set(everything)


def test_updated_since_sees_a_task_whose_tags_changed(auth_client, user):
    task = create_task(auth_client, user.pk, title="tagged", tags=["a"])
    since = task["updated_at"]

    auth_client.patch(tasks_url(user.pk, task["id"]), {"tags": ["a", "b"]}, format="json")

    assert listed(auth_client, user, {"tagged": task}, updated_since=since) == {"tagged"}


# --- invalid and unknown parameters --------------------------------------------------------------
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("status", "done"),
        ("status", "pending,completed"),
        ("priority", "urgent"),
        ("priority", "low,urgent"),
        ("due_before", "tomorrow"),
        ("due_before", "2026-12-01"),
        ("due_before", "2026-12-01T17:00:00"),
        ("due_after", "2026-13-01T00:00:00Z"),
        ("due_after", "2026-12-01"),
        ("due_after", "2026-12-01T17:00:00"),
        ("overdue", "truee"),
        ("overdue", "maybe"),
        ("updated_since", "yesterday"),
        ("updated_since", "2026-12-01T17:00:00"),
        ("sort", "colour"),
        ("sort", "--title"),
        ("sort", "title,created"),
        ("sort", "-"),
        ("limit", "0"),
        ("limit", "501"),
        ("limit", "-1"),
        ("limit", "abc"),
        ("limit", "1.5"),
        ("cursor", "garbage!!"),
        ("cursor", "eyJ4IjogMX0"),
    ],
)
def test_invalid_parameter_value_is_400_naming_the_parameter(auth_client, user, tasks, param, value):
    response = auth_client.get(tasks_url(user.pk), {param: value})

    assert_problem(response, 400, "validation_error", param)


def test_several_invalid_parameters_are_all_named(auth_client, user):
    response = auth_client.get(tasks_url(user.pk), {"status": "done", "limit": "0", "sort": "colour"})

    body = assert_problem(response, 400, "validation_error")
    assert {"status", "limit", "sort"} <= set(body["errors"])


def test_unknown_parameters_are_ignored(auth_client, user, tasks):
    assert listed(auth_client, user, tasks, colour="red", page="2", offset="10") == set(tasks)
