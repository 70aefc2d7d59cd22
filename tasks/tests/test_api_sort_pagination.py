"""Sorting (every key, both ways, id tie-break, nulls last) and keyset pagination of the task list."""

from urllib.parse import parse_qs, urlsplit

import pytest

from core.tests.support import assert_problem
from tasks.tests.api_support import create_task, ids, list_all, next_link, parse_time, tasks_url

pytestmark = pytest.mark.django_db

RANK = {"none": 0, "low": 1, "medium": 2, "high": 3}
SORT_KEYS = ["created", "title", "due_date", "priority", "updated"]
EVERY_SORT = [key for name in SORT_KEYS for key in (name, f"-{name}")]
D1, D2 = "2026-12-01T10:00:00Z", "2026-12-05T10:00:00Z"


def sort_value(task, name):
    if name == "created":
        return parse_time(task["created_at"])
    if name == "updated":
        return parse_time(task["updated_at"])
    if name == "due_date":
        return None if task["due_date"] is None else parse_time(task["due_date"])
    if name == "priority":
        return RANK[task["priority"]]
    return task["title"]


def expected_order(tasks, sort):
    """docs/API.md: by the key, ties by id in the same direction, tasks without a due date last either way."""
    name, descending = sort.lstrip("-"), sort.startswith("-")
    dated = [task for task in tasks if sort_value(task, name) is not None]
    undated = [task for task in tasks if sort_value(task, name) is None]
    dated.sort(key=lambda task: (sort_value(task, name), task["id"]), reverse=descending)
    undated.sort(key=lambda task: task["id"], reverse=descending)
    return ids(dated + undated)


@pytest.fixture
def mixed(auth_client, user):
    """Twelve tasks with ties in every key; updated in another order than created."""
    titles = [
        "cherry",
        "apple",
        "fig",
        "apple",
        "banana",
        "cherry",
        "date",
        "apple",
        "elder",
        "fig",
        "grape",
        "cherry",
    ]
    priorities = [
        "low",
        "high",
        "none",
        "medium",
        "high",
        "low",
        "none",
        "high",
        "medium",
        "none",
        "low",
        "high",
    ]
    dues = [D1, None, D2, D1, None, "2026-12-03T10:00:00Z", D2, None, D1, "2026-11-30T10:00:00Z", None, D2]
    created = [
        create_task(auth_client, user.pk, title=title, priority=priority, due_date=due)
        for title, priority, due in zip(titles, priorities, dues, strict=True)
    ]
    for index in (4, 0, 9, 2):
        auth_client.patch(tasks_url(user.pk, created[index]["id"]), {"description": "touched"}, format="json")
    return auth_client.get(tasks_url(user.pk), {"limit": 500}).json()


@pytest.mark.parametrize("sort", EVERY_SORT)
def test_every_sort_key_both_ways_with_id_tie_break_and_undated_last(auth_client, user, mixed, sort):
    response = auth_client.get(tasks_url(user.pk), {"sort": sort})

    assert response.status_code == 200, response.content
    assert ids(response.json()) == expected_order(mixed, sort)


def test_default_sort_is_newest_created_first(auth_client, user, mixed):
    assert ids(auth_client.get(tasks_url(user.pk)).json()) == expected_order(mixed, "-created")


def test_priority_ascending_is_none_low_medium_high(auth_client, user, mixed):
    tasks = auth_client.get(tasks_url(user.pk), {"sort": "priority"}).json()

    ranks = [RANK[task["priority"]] for task in tasks]
    assert ranks == sorted(ranks)
    assert [tasks[0]["priority"], tasks[-1]["priority"]] == ["none", "high"]


@pytest.mark.parametrize("sort", ["due_date", "-due_date"])
def test_tasks_without_a_due_date_sort_last_either_way(auth_client, user, mixed, sort):
    tasks = auth_client.get(tasks_url(user.pk), {"sort": sort}).json()

    dated = [task["due_date"] is not None for task in tasks]
    assert dated == sorted(dated, reverse=True)
    assert not dated[-1]


# --- pagination ----------------------------------------------------------------------------------
@pytest.mark.parametrize("sort", EVERY_SORT)
@pytest.mark.parametrize("limit", [1, 5])
def test_following_next_links_visits_every_task_once_in_order(auth_client, user, mixed, sort, limit):
    visited = list_all(auth_client, tasks_url(user.pk), {"sort": sort, "limit": limit})

    assert ids(visited) == expected_order(mixed, sort)


def test_link_is_absolute_and_keeps_the_filters_sort_and_limit(auth_client, user, mixed):
    params = {"sort": "title", "limit": 2, "priority": "high,low", "due_after": "2026-12-01T11:00:00+01:00"}
    response = auth_client.get(tasks_url(user.pk), params)

    link = next_link(response)
    assert link is not None
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc) == ("http", "testserver")
    assert parts.path.rstrip("/") == tasks_url(user.pk, slash=False)
    query = parse_qs(parts.query)
    assert query["cursor"]
    assert query["sort"] == ["title"]
    assert query["limit"] == ["2"]
    assert query["priority"] == ["high,low"]
    assert query["due_after"] == ["2026-12-01T11:00:00+01:00"]


def test_filters_apply_on_every_page(auth_client, user, mixed):
    params = {"sort": "title", "limit": 2, "priority": "high,low", "due_after": "2026-12-01T11:00:00+01:00"}

    visited = list_all(auth_client, tasks_url(user.pk), params)

    expected = [
        task
        for task in mixed
        if task["priority"] in ("high", "low") and task["due_date"] is not None and task["due_date"] >= D1
    ]
    assert ids(visited) == expected_order(expected, "title")


def test_every_page_reports_the_total_of_all_matches(auth_client, user, mixed):
    first = auth_client.get(tasks_url(user.pk), {"limit": 5})
    second = auth_client.get(next_link(first))

    assert first["X-Total-Count"] == second["X-Total-Count"] == "12"


def test_no_next_link_when_the_last_page_is_exactly_full(auth_client, user):
    for n in range(4):
        create_task(auth_client, user.pk, title=f"t{n}")

    first = auth_client.get(tasks_url(user.pk), {"limit": 2})
    second = auth_client.get(next_link(first))

    assert len(second.json()) == 2
    assert next_link(second) is None


def test_tag_filter_pages_carry_every_tag(auth_client, user):
    for n in range(7):
        create_task(auth_client, user.pk, title=f"t{n}", tags=["a", "b", "c"][: 1 + n % 3])

    visited = list_all(auth_client, tasks_url(user.pk), {"tag": ["A", "b"], "limit": 2})

    assert len(visited) == 4
    assert all({"a", "b"} <= set(task["tags"]) for task in visited)


@pytest.fixture
def many(user):
    from tasks.tests.factories import TaskFactory

    return [TaskFactory(user=user, title=f"task {n:03d}") for n in range(101)]


def test_default_page_is_100_tasks(auth_client, user, many):
    first = auth_client.get(tasks_url(user.pk))
    second = auth_client.get(next_link(first))

    assert len(first.json()) == 100
    assert first["X-Total-Count"] == "101"
    assert len(second.json()) == 1
    assert next_link(second) is None
    assert {task["id"] for task in first.json() + second.json()} == {task.id for task in many}


@pytest.mark.parametrize("limit", [1, 100, 500])
def test_limit_bounds_are_accepted(auth_client, user, many, limit):
    response = auth_client.get(tasks_url(user.pk), {"limit": limit})

    assert response.status_code == 200
    assert len(response.json()) == min(limit, 101)
    assert (next_link(response) is None) == (limit >= 101)


@pytest.mark.parametrize("limit", ["0", "501"])
def test_limit_out_of_bounds_is_400(auth_client, user, limit):
    assert_problem(auth_client.get(tasks_url(user.pk), {"limit": limit}), 400, "validation_error", "limit")


# --- pagination while tasks are created and deleted ---------------------------------------------
@pytest.mark.parametrize(
    "sort", ["-created", "created", "title", "-title", "due_date", "-priority", "-updated"]
)
def test_each_task_is_visited_once_while_tasks_are_created_and_deleted_between_pages(auth_client, user, sort):
    titles = ["kiwi", "apple", "mango", "banana", "cherry", "lime", "date", "fig", "grape", "lemon"]
    start = [
        create_task(
            auth_client, user.pk, title=title, priority=["low", "high"][n % 2], due_date=[D1, None, D2][n % 3]
        )
        for n, title in enumerate(titles)
    ]
    url = tasks_url(user.pk)
    response = auth_client.get(url, {"sort": sort, "limit": 3})
    visited = response.json()
    seen = set(ids(visited))
    unseen = [task for task in start if task["id"] not in seen]
    deleted = {unseen[0]["id"], visited[1]["id"]}
    for task_id in deleted:
        assert auth_client.delete(tasks_url(user.pk, task_id)).status_code == 204
    added = [
        create_task(auth_client, user.pk, title=title, due_date=D1)
        for title in ("aardvark", "zebra", "honey")
    ]

    while (link := next_link(response)) is not None:
        response = auth_client.get(link)
        assert response.status_code == 200, response.content
        visited += response.json()

    visited_ids = ids(visited)
    assert len(visited_ids) == len(set(visited_ids)), "a task was visited twice"
    survivors = {task["id"] for task in start} - {unseen[0]["id"]}
    assert survivors <= set(visited_ids), "a task that existed all along was skipped"
    assert unseen[0]["id"] not in visited_ids
    assert set(visited_ids) <= survivors | {task["id"] for task in added}


def test_cursor_still_works_after_the_task_it_points_at_is_deleted(auth_client, user):
    tasks = [create_task(auth_client, user.pk, title=f"t{n}") for n in range(6)]
    first = auth_client.get(tasks_url(user.pk), {"limit": 3, "sort": "created"})
    assert ids(first.json()) == ids(tasks[:3])

    auth_client.delete(tasks_url(user.pk, tasks[2]["id"]))
    second = auth_client.get(next_link(first))

    assert second.status_code == 200
    assert ids(second.json()) == ids(tasks[3:])


# --- cursors a client made up --------------------------------------------------------------------
def _cursor_of(response) -> str:
    return parse_qs(urlsplit(next_link(response)).query)["cursor"][0]


def _flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def test_tampered_cursor_is_400_naming_cursor(auth_client, user, mixed):
    cursor = _cursor_of(auth_client.get(tasks_url(user.pk), {"limit": 3}))

    for tampered in (
        _flip(cursor, len(cursor) // 2),
        _flip(cursor, 0),
        _flip(cursor, len(cursor) - 1),
        cursor[:-4],
        cursor + "AAAA",
    ):
        response = auth_client.get(tasks_url(user.pk), {"limit": 3, "cursor": tampered})
        assert_problem(response, 400, "validation_error", "cursor")


@pytest.mark.parametrize(
    "cursor",
    ["!!!", "not-a-cursor", "eyJpZCI6IDF9", "a" * 5000, "\u00e9\u00e9", "\x00abc"],
    ids=["bangs", "words", "base64-json", "huge", "non-ascii", "nul"],
)
def test_garbage_cursor_is_400_naming_cursor(auth_client, user, mixed, cursor):
    response = auth_client.get(tasks_url(user.pk), {"cursor": cursor})

    assert_problem(response, 400, "validation_error", "cursor")


def test_cursor_of_one_sort_used_with_another_is_400(auth_client, user, mixed):
    cursor = _cursor_of(auth_client.get(tasks_url(user.pk), {"limit": 3, "sort": "title"}))

    response = auth_client.get(tasks_url(user.pk), {"limit": 3, "sort": "-priority", "cursor": cursor})

    assert_problem(response, 400, "validation_error", "cursor")
