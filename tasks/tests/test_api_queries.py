"""Query budgets (issue 11), counting every statement of the request, authentication included, for
a user this process already knows: list <= 2, detail <= 1, create <= 3, toggle <= 2, an unchanged
list's 304 <= 1 (reading no task). Flat in page size and in the number of tags."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.tests.api_support import create_task, list_all, next_link, tasks_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def hundred_tagged(user):
    """100 tasks with 3 tags each, from a pool of 10 tags."""
    from tasks.tests.factories import TaskFactory

    return [
        TaskFactory(
            user=user, title=f"task {n}", tags=[f"tag{n % 10}", f"tag{(n + 3) % 10}", f"tag{(n + 7) % 10}"]
        )
        for n in range(100)
    ]


@pytest.fixture
def known(auth_client, user):
    """The client after one request: its user is known to this process (as under real traffic)."""
    auth_client.get(tasks_url(user.pk, "stats"))
    return auth_client


def queries_for(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(captured)


def test_list_of_100_tasks_with_3_tags_each_takes_at_most_2_queries(
    known, user, hundred_tagged, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):
        response = known.get(tasks_url(user.pk), {"limit": 100})

    assert len(response.json()) == 100
    assert all(len(task["tags"]) == 3 for task in response.json())


def test_list_query_count_does_not_grow_with_page_size(known, user, hundred_tagged):
    counts = {limit: queries_for(known, tasks_url(user.pk), {"limit": limit}) for limit in (1, 10, 100, 500)}

    assert set(counts.values()) == {2}, counts


@pytest.mark.parametrize(
    "params",
    [
        {"status": "pending", "sort": "title"},
        {"tag": ["tag1", "tag4"], "sort": "-priority"},
        {"search": "task 1", "sort": "due_date"},
        {"overdue": "true", "priority": "none,high", "updated_since": "2000-01-01T00:00:00Z"},
        {"due_after": "2000-01-01T00:00:00Z", "due_before": "2999-01-01T00:00:00Z", "sort": "-updated"},
    ],
)
def test_filtered_list_stays_within_2_queries(
    known, user, hundred_tagged, params, django_assert_max_num_queries
):
    with django_assert_max_num_queries(2):
        response = known.get(tasks_url(user.pk), params)
    assert response.status_code == 200
    assert int(response["X-Total-Count"]) >= len(response.json())


def test_a_page_after_a_cursor_stays_within_2_queries(
    known, user, hundred_tagged, django_assert_max_num_queries
):
    first = known.get(tasks_url(user.pk), {"limit": 30, "sort": "title"})

    with django_assert_max_num_queries(2):
        second = known.get(next_link(first))

    assert len(second.json()) == 30


def test_detail_takes_1_query(known, user, hundred_tagged, django_assert_max_num_queries):
    task = hundred_tagged[0]

    with django_assert_max_num_queries(1):
        response = known.get(tasks_url(user.pk, task.id))

    assert len(response.json()["tags"]) == 3


def test_an_unchanged_list_is_304_after_1_query_reading_no_task(
    known, user, hundred_tagged, django_assert_max_num_queries
):
    etag = known.get(tasks_url(user.pk), {"tag": "tag1"})["ETag"]

    with CaptureQueriesContext(connection) as captured:
        response = known.get(tasks_url(user.pk), {"tag": "tag1"}, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert len(captured) == 1
    assert "tasks_task " not in captured[0]["sql"] and 'tasks_task"' not in captured[0]["sql"]


@pytest.mark.parametrize("tag_count", [0, 3, 20])
def test_create_takes_1_query_on_postgresql_whatever_the_number_of_new_tags(
    known, user, tag_count, django_assert_max_num_queries
):
    create_task(known, user.pk, title="warm-up", tags=["existing"])
    tags = [f"new{n}" for n in range(tag_count - 1)] + (["EXISTING"] if tag_count else [])

    # One statement on PostgreSQL (the task, its tags and links); three on SQLite, which has no
    # data-modifying WITH.
    with django_assert_max_num_queries(1 if connection.vendor == "postgresql" else 3):
        response = known.post(tasks_url(user.pk), {"title": "Budgeted", "tags": tags}, format="json")

    assert response.status_code == 201
    assert len(response.json()["tags"]) == tag_count


def test_an_idempotent_create_with_tags_takes_at_most_2_queries_on_postgresql(known, user):
    """The task, its tags and links (one statement on PostgreSQL), the key's record, in one
    transaction. SQLite has no data-modifying WITH: there the tags and links are three statements.

    The test runs inside a transaction of its own, so the create's transaction becomes a savepoint
    here; in production it is the outermost one (BEGIN and COMMIT, which no budget counts)."""
    with CaptureQueriesContext(connection) as captured:
        response = known.post(
            tasks_url(user.pk),
            {"title": "Keyed", "tags": ["a", "b"]},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k-1",
        )
    statements = [query["sql"] for query in captured if "SAVEPOINT" not in query["sql"]]

    assert response.status_code == 201
    assert len(statements) <= (2 if connection.vendor == "postgresql" else 4), statements


def test_toggle_takes_1_query_and_a_stale_if_match_2(
    known, user, hundred_tagged, django_assert_max_num_queries
):
    task = hundred_tagged[0]

    with django_assert_max_num_queries(1):
        toggled = known.patch(tasks_url(user.pk, task.id, "complete"))
    with django_assert_max_num_queries(2):
        stale = known.patch(tasks_url(user.pk, task.id, "complete"), HTTP_IF_MATCH='"1"')

    assert toggled.status_code == 200 and toggled.json()["completed"] is True
    assert stale.status_code == 412


def test_update_with_if_match_takes_1_query(known, user, hundred_tagged, django_assert_max_num_queries):
    task = hundred_tagged[0]

    with django_assert_max_num_queries(1):
        response = known.patch(
            tasks_url(user.pk, task.id),
            {"title": "Edited", "priority": "high"},
            format="json",
            HTTP_IF_MATCH='"1"',
        )

    assert response.status_code == 200
    assert response.json()["version"] == 2


def test_stats_and_tags_take_a_fixed_number_of_queries(known, user, hundred_tagged):
    stats = queries_for(known, tasks_url(user.pk, "stats"))
    tags = queries_for(known, f"/api/{user.pk}/tags/")

    assert stats <= 1
    assert tags <= 1


def test_a_new_user_costs_the_user_lookup_once(auth_client, user, hundred_tagged):
    first = queries_for(auth_client, tasks_url(user.pk, hundred_tagged[0].id))
    second = queries_for(auth_client, tasks_url(user.pk, hundred_tagged[0].id))

    assert (first, second) == (2, 1)


def test_paging_through_everything_costs_the_same_per_page(known, user, hundred_tagged):
    with CaptureQueriesContext(connection) as captured:
        tasks = list_all(known, tasks_url(user.pk), {"limit": 25})

    assert len(tasks) == 100
    assert len(captured) <= 4 * 2
