"""Query budgets: list <= 4, detail <= 3, create <= 6, flat in page size and in the number of tags."""

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


def queries_for(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(captured)


def test_list_of_100_tasks_with_3_tags_each_takes_at_most_4_queries(
    auth_client, user, hundred_tagged, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):
        response = auth_client.get(tasks_url(user.pk), {"limit": 100})

    assert len(response.json()) == 100
    assert all(len(task["tags"]) == 3 for task in response.json())


def test_list_query_count_does_not_grow_with_page_size(auth_client, user, hundred_tagged):
    counts = {
        limit: queries_for(auth_client, tasks_url(user.pk), {"limit": limit}) for limit in (1, 10, 100, 500)
    }

    assert len(set(counts.values())) == 1, counts
    assert counts[100] <= 4


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
def test_filtered_list_stays_within_4_queries(
    auth_client, user, hundred_tagged, params, django_assert_max_num_queries
):
    with django_assert_max_num_queries(4):
        auth_client.get(tasks_url(user.pk), params)


def test_a_page_after_a_cursor_stays_within_4_queries(
    auth_client, user, hundred_tagged, django_assert_max_num_queries
):
    first = auth_client.get(tasks_url(user.pk), {"limit": 30, "sort": "title"})

    with django_assert_max_num_queries(4):
        second = auth_client.get(next_link(first))

    assert len(second.json()) == 30


def test_detail_takes_at_most_3_queries(auth_client, user, hundred_tagged, django_assert_max_num_queries):
    task = hundred_tagged[0]

    with django_assert_max_num_queries(3):
        response = auth_client.get(tasks_url(user.pk, task.id))

    assert len(response.json()["tags"]) == 3


@pytest.mark.parametrize("tag_count", [0, 3, 20])
def test_create_takes_at_most_6_queries_whatever_the_number_of_new_tags(
    auth_client, user, tag_count, django_assert_max_num_queries
):
    create_task(auth_client, user.pk, title="warm-up", tags=["existing"])
    tags = [f"new{n}" for n in range(tag_count - 1)] + (["EXISTING"] if tag_count else [])

    with django_assert_max_num_queries(6):
        response = auth_client.post(tasks_url(user.pk), {"title": "Budgeted", "tags": tags}, format="json")

    assert response.status_code == 201
    assert len(response.json()["tags"]) == tag_count


def test_stats_and_tags_take_a_fixed_number_of_queries(auth_client, user, hundred_tagged):
    stats = queries_for(auth_client, tasks_url(user.pk, "stats"))
    tags = queries_for(auth_client, f"/api/{user.pk}/tags/")

    assert stats <= 3
    assert tags <= 3


def test_paging_through_everything_costs_the_same_per_page(auth_client, user, hundred_tagged):
    with CaptureQueriesContext(connection) as captured:
        tasks = list_all(auth_client, tasks_url(user.pk), {"limit": 25})

    assert len(tasks) == 100
    assert len(captured) <= 4 * 4
