"""The list's weak ETag (docs/API.md §4): it changes when, and only when, the caller's tasks change, by
any path (API, bulk, admin services, commands, a plain UPDATE); `If-None-Match` with it is 304 with
no body; an overdue list's also changes when a due date passes."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.tests.support import bearer_client
from tasks import services
from tasks.models import Task
from tasks.tests.api_support import create_task, tasks_url
from tasks.tests.factories import TaskFactory
from todo_project.tests.deploy_support import wait_until

pytestmark = pytest.mark.django_db


def etag_of(client, user, **params) -> str:
    response = client.get(tasks_url(user.pk), params)
    assert response.status_code == 200
    assert response["ETag"].startswith('W/"')
    return response["ETag"]


def test_an_unchanged_list_keeps_its_etag_and_answers_304_with_no_body(auth_client, user):
    create_task(auth_client, user.pk, title="One")
    etag = etag_of(auth_client, user)

    response = auth_client.get(tasks_url(user.pk), HTTP_IF_NONE_MATCH=etag)

    assert etag_of(auth_client, user) == etag
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "private, no-cache"
    assert "Authorization" in response["Vary"]


def test_an_etag_in_a_list_of_them_or_without_w_slash_still_matches(auth_client, user):
    etag = etag_of(auth_client, user)

    listed = auth_client.get(tasks_url(user.pk), HTTP_IF_NONE_MATCH=f'"nope", {etag}')
    strong = auth_client.get(tasks_url(user.pk), HTTP_IF_NONE_MATCH=etag.removeprefix("W/"))

    assert (listed.status_code, strong.status_code) == (304, 304)


def test_each_query_has_its_own_etag(auth_client, user):
    create_task(auth_client, user.pk, title="One")

    assert etag_of(auth_client, user) != etag_of(auth_client, user, status="pending")


CHANGES = {
    "api create": lambda client, user, task: create_task(client, user.pk, title="New"),
    "api patch": lambda client, user, task: client.patch(
        tasks_url(user.pk, task.id), {"title": "X"}, format="json"
    ),
    "api tags only": lambda client, user, task: client.patch(
        tasks_url(user.pk, task.id), {"tags": ["fresh"]}, format="json"
    ),
    "api complete": lambda client, user, task: client.patch(tasks_url(user.pk, task.id, "complete")),
    "api delete": lambda client, user, task: client.delete(tasks_url(user.pk, task.id)),
    "api bulk": lambda client, user, task: client.post(
        tasks_url(user.pk, "bulk"), {"action": "complete", "ids": [task.id]}, format="json"
    ),
    "service (admin)": lambda client, user, task: services.task_update(
        user=user, task_id=task.id, changes={"description": "by staff"}
    ),
    "tag deleted (admin)": lambda client, user, task: services.tag_delete(tag=task.tags.get()),
    "command": lambda client, user, task: call_command("purge_tasks", "--user", user.pk, verbosity=0),
    "plain UPDATE": lambda client, user, task: Task.objects.filter(pk=task.pk).update(title="raw"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_change_to_the_callers_tasks_changes_the_etag(auth_client, user, change):
    task = TaskFactory(user=user, tags=["home"])
    etag = etag_of(auth_client, user)

    change(auth_client, user, task)

    assert etag_of(auth_client, user) != etag
    assert auth_client.get(tasks_url(user.pk), HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_a_write_that_changes_nothing_keeps_the_etag(auth_client, user):
    task = create_task(auth_client, user.pk, title="Same", tags=["a"])
    etag = etag_of(auth_client, user)

    auth_client.patch(tasks_url(user.pk, task["id"]), {"title": "Same", "tags": ["A"]}, format="json")
    auth_client.patch(tasks_url(user.pk, task["id"], "complete"), {"completed": False}, format="json")

    assert etag_of(auth_client, user) == etag


def test_another_users_changes_leave_my_etag_alone(auth_client, user, other_user, make_token):
    TaskFactory(user=user)
    etag = etag_of(auth_client, user)

    create_task(bearer_client(other_user), other_user.pk, title="Theirs")

    assert etag_of(auth_client, user) == etag


def test_an_overdue_list_changes_when_a_due_date_passes(auth_client, user):
    TaskFactory(user=user, due_date=timezone.now() - timedelta(days=1))
    soon = TaskFactory(user=user, due_date=timezone.now() + timedelta(seconds=1))
    etag = etag_of(auth_client, user, overdue="true")
    unchanged = etag_of(auth_client, user)

    # No write happens: only time passes.
    wait_until(lambda: etag_of(auth_client, user, overdue="true") != etag, timeout=15, message="a new ETag")

    listed = auth_client.get(tasks_url(user.pk), {"overdue": "true"}).json()
    assert soon.id in [task["id"] for task in listed]
    assert etag_of(auth_client, user) == unchanged  # the unfiltered list did not change


# --- The rendered pages kept in the cache (tasks/api/list_pages.py) ------------------------------------
def test_an_unchanged_list_read_again_comes_from_the_cache_after_1_query(auth_client, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    TaskFactory.create_batch(3, user=user, tags=["home"])
    first = auth_client.get(tasks_url(user.pk), {"limit": 2})

    with CaptureQueriesContext(connection) as captured:
        again = auth_client.get(tasks_url(user.pk), {"limit": 2})

    assert len(captured) == 1  # the list's state row; the page is the cached one
    assert again.content == first.content
    assert again["X-Total-Count"] == first["X-Total-Count"] == "3"
    assert again["Link"] == first["Link"]
    assert again["Content-Type"] == "application/json"


def test_a_write_by_any_path_is_seen_at_once_despite_the_cache(auth_client, user):
    task = TaskFactory(user=user, title="Before")
    assert auth_client.get(tasks_url(user.pk)).json()[0]["title"] == "Before"

    Task.objects.filter(pk=task.pk).update(title="After")  # no API, no signal: the triggers see it

    assert auth_client.get(tasks_url(user.pk)).json()[0]["title"] == "After"


def test_an_unreachable_cache_only_costs_the_page_query(auth_client, user, settings):
    from todo_project.tests.deploy_support import free_port

    TaskFactory(user=user, title="Still listed")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": None, "auth": None},
    }

    response = auth_client.get(tasks_url(user.pk))

    assert response.status_code == 200
    assert [task["title"] for task in response.json()] == ["Still listed"]
