"""User B against user A's data, on every route and method: 404 through B's URL, 403 through A's."""

import pytest

from core.tests.support import assert_problem, bearer_client
from tasks.tests.api_support import SLASH, create_task, get_task, tags_url, tasks_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def intruder(other_user, make_token):
    """User B's client, with B's own valid token."""
    return bearer_client(other_user)


@pytest.fixture
def victim_task(auth_client, user):
    """User A's task, with a tag and a past due date so stats and tags would count it."""
    return create_task(
        auth_client, user.pk, title="A's secret", tags=["Private"], due_date="2020-01-01T00:00:00Z"
    )


@pytest.fixture
def victim_done(auth_client, user):
    return create_task(auth_client, user.pk, title="A's done", completed=True, tags=["Private"])


def unchanged(auth_client, user, *tasks):
    for task in tasks:
        assert get_task(auth_client, user.pk, task["id"]) == task
    assert len(auth_client.get(tasks_url(user.pk)).json()) == len(tasks)


# Every route on one task, as (method, path parts after tasks/, body).
TASK_ROUTES = [
    ("get", (), None),
    ("put", (), {"title": "pwned"}),
    ("patch", (), {"title": "pwned"}),
    ("delete", (), None),
    ("patch", ("complete",), None),
    ("patch", ("complete",), {"completed": True}),
]
TASK_ROUTE_IDS = ["GET", "PUT", "PATCH", "DELETE", "complete-toggle", "complete-set"]


def call(client, method, url, body, **headers):
    if body is None:
        return getattr(client, method)(url, **headers)
    return getattr(client, method)(url, body, format="json", **headers)


# --- B's URL, A's task id: 404 -------------------------------------------------------------------
@SLASH
@pytest.mark.parametrize(("method", "parts", "body"), TASK_ROUTES, ids=TASK_ROUTE_IDS)
def test_other_users_task_through_own_url_is_404(
    auth_client, user, other_user, intruder, victim_task, method, parts, body, slash
):
    url = tasks_url(other_user.pk, victim_task["id"], *parts, slash=slash)

    response = call(intruder, method, url, body)

    problem = assert_problem(response, 404, "not_found")
    assert "secret" not in problem["detail"]
    unchanged(auth_client, user, victim_task)


@pytest.mark.parametrize(("method", "parts", "body"), TASK_ROUTES, ids=TASK_ROUTE_IDS)
@pytest.mark.parametrize("header", ["HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH"])
def test_other_users_task_with_its_current_etag_is_still_404(
    auth_client, user, other_user, intruder, victim_task, method, parts, body, header
):
    """A conditional header must not turn the 404 into a 412 or 304 that confirms the task exists."""
    etag = auth_client.get(tasks_url(user.pk, victim_task["id"]))["ETag"]
    url = tasks_url(other_user.pk, victim_task["id"], *parts)

    response = call(intruder, method, url, body, **{header: etag})

    assert_problem(response, 404, "not_found")
    unchanged(auth_client, user, victim_task)


def test_other_users_task_and_a_task_that_never_existed_look_the_same(other_user, intruder, victim_task):
    theirs = intruder.get(tasks_url(other_user.pk, victim_task["id"]))
    nobody = intruder.get(tasks_url(other_user.pk, victim_task["id"] + 10_000))

    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json()["detail"].replace(str(victim_task["id"]), "N") == nobody.json()["detail"].replace(
        str(victim_task["id"] + 10_000), "N"
    )


# --- A's URL with B's token: 403 user_mismatch ---------------------------------------------------
EVERY_ROUTE = [
    ("get", "list", None),
    ("post", "list", {"title": "planted"}),
    ("get", "task", None),
    ("put", "task", {"title": "pwned"}),
    ("patch", "task", {"title": "pwned"}),
    ("delete", "task", None),
    ("patch", "complete", None),
    ("post", "bulk", {"action": "delete", "ids": [1]}),
    ("post", "bulk", {"action": "delete_completed"}),
    ("get", "stats", None),
    ("get", "tags", None),
]
EVERY_ROUTE_IDS = [
    "list",
    "create",
    "detail",
    "put",
    "patch",
    "delete",
    "complete",
    "bulk",
    "bulk-delete-completed",
    "stats",
    "tags",
]


def route_url(user_id, route, task_id, slash):
    if route == "list":
        return tasks_url(user_id, slash=slash)
    if route == "task":
        return tasks_url(user_id, task_id, slash=slash)
    if route == "complete":
        return tasks_url(user_id, task_id, "complete", slash=slash)
    if route == "tags":
        return tags_url(user_id, slash=slash)
    return tasks_url(user_id, route, slash=slash)


@SLASH
@pytest.mark.parametrize(("method", "route", "body"), EVERY_ROUTE, ids=EVERY_ROUTE_IDS)
def test_other_users_url_is_403_user_mismatch(
    auth_client, user, intruder, victim_task, victim_done, method, route, body, slash
):
    if body and body.get("ids"):
        body = {**body, "ids": [victim_task["id"], victim_done["id"]]}

    response = call(intruder, method, route_url(user.pk, route, victim_task["id"], slash), body)

    assert_problem(response, 403, "user_mismatch")
    unchanged(auth_client, user, victim_task, victim_done)


@pytest.mark.parametrize(("method", "route", "body"), EVERY_ROUTE, ids=EVERY_ROUTE_IDS)
def test_user_mismatch_is_checked_before_any_lookup(user, intruder, method, route, body):
    """A's URL with an id that exists nowhere is 403 too: B learns nothing about A's ids."""
    response = call(intruder, method, route_url(user.pk, route, 987654321, True), body)

    assert_problem(response, 403, "user_mismatch")


@pytest.mark.parametrize("user_id", ["nobody-at-all", "UPPER", "007"])
def test_any_url_user_other_than_the_token_sub_is_403(intruder, user_id):
    assert_problem(intruder.get(tasks_url(user_id)), 403, "user_mismatch")


def test_url_user_id_is_compared_exactly(auth_client, user):
    swapped = user.pk.swapcase()

    assert_problem(auth_client.get(tasks_url(swapped)), 403, "user_mismatch")


# --- B's own collection routes never see or touch A's data ---------------------------------------
@pytest.mark.parametrize(
    ("params", "sees_own"),
    [
        ({}, True),
        ({"tag": "private"}, True),
        ({"status": "pending"}, True),
        ({"search": "secret"}, False),
        ({"overdue": "true"}, False),
    ],
)
def test_list_never_shows_other_users_tasks(other_user, intruder, victim_task, params, sees_own):
    own = create_task(intruder, other_user.pk, title="B's task", tags=["private"])

    response = intruder.get(tasks_url(other_user.pk), params)

    assert [task["id"] for task in response.json()] == ([own["id"]] if sees_own else [])
    assert response["X-Total-Count"] == ("1" if sees_own else "0")


@pytest.mark.parametrize("action", ["complete", "reopen", "delete"])
def test_bulk_with_other_users_ids_reports_them_missing_and_changes_nothing(
    auth_client, user, other_user, intruder, victim_task, victim_done, action
):
    own = create_task(intruder, other_user.pk, title="B's")
    given = [victim_task["id"], own["id"], victim_done["id"]]

    response = intruder.post(
        tasks_url(other_user.pk, "bulk"), {"action": action, "ids": given}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["missing"] == [victim_task["id"], victim_done["id"]]
    assert response.json()["affected"] == (0 if action == "reopen" else 1)
    unchanged(auth_client, user, victim_task, victim_done)


def test_bulk_delete_completed_leaves_other_users_tasks(auth_client, user, other_user, intruder, victim_done):
    create_task(intruder, other_user.pk, title="B's done", completed=True)

    response = intruder.post(tasks_url(other_user.pk, "bulk"), {"action": "delete_completed"}, format="json")

    assert response.json()["affected"] == 1
    unchanged(auth_client, user, victim_done)


def test_stats_never_count_other_users_tasks(other_user, intruder, victim_task, victim_done):
    create_task(intruder, other_user.pk, title="B's")

    assert intruder.get(tasks_url(other_user.pk, "stats")).json() == {
        "total": 1,
        "completed": 0,
        "pending": 1,
        "overdue": 0,
    }


def test_tags_never_list_or_count_other_users_tags(auth_client, user, other_user, intruder, victim_task):
    create_task(intruder, other_user.pk, title="B's", tags=["PRIVATE", "mine"])

    assert intruder.get(tags_url(other_user.pk)).json() == [
        {"name": "mine", "task_count": 1},
        {"name": "PRIVATE", "task_count": 1},
    ]
    assert auth_client.get(tags_url(user.pk)).json() == [{"name": "Private", "task_count": 1}]


def test_tag_spelling_is_per_user(auth_client, user, other_user, intruder, victim_task):
    theirs = create_task(intruder, other_user.pk, title="B's", tags=["pRiVaTe"])

    assert theirs["tags"] == ["pRiVaTe"]
    assert get_task(auth_client, user.pk, victim_task["id"])["tags"] == ["Private"]


def test_user_id_in_a_write_body_cannot_move_a_task_to_another_user(
    auth_client, user, other_user, intruder, victim_task
):
    url = tasks_url(user.pk, victim_task["id"])
    auth_client.patch(url, {"user_id": other_user.pk}, format="json")
    auth_client.put(url, {"title": "still mine", "user_id": other_user.pk}, format="json")

    assert get_task(auth_client, user.pk, victim_task["id"])["user_id"] == user.pk
    assert intruder.get(tasks_url(other_user.pk)).json() == []


# --- no token ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "route", "body"), EVERY_ROUTE, ids=EVERY_ROUTE_IDS)
def test_every_task_route_without_a_token_is_401(
    auth_client, api_client, user, victim_task, method, route, body
):
    response = call(api_client, method, route_url(user.pk, route, victim_task["id"], True), body)

    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    unchanged(auth_client, user, victim_task)
