"""POST /api/<user_id>/tasks/: the created resource, its headers, defaults and ignored fields."""

import pytest

from core.tests.support import assert_problem, bearer_client
from tasks.tests.api_support import RFC3339_UTC, create_task, get_task, tasks_url

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
def test_create_returns_201_with_location_and_etag_of_the_new_task(auth_client, user, slash):
    response = auth_client.post(tasks_url(user.pk, slash=slash), {"title": "Buy milk"}, format="json")

    assert response.status_code == 201, response.content
    assert response["Content-Type"].startswith("application/json")
    task = response.json()
    # Both spellings name the same resource (docs/API.md §4), so either is a correct Location.
    assert response["Location"].rstrip("/").endswith(tasks_url(user.pk, task["id"], slash=False))
    detail = auth_client.get(response["Location"])
    assert detail.status_code == 200
    assert detail.json() == task
    assert response["ETag"] == detail["ETag"]


def test_created_task_has_the_documented_defaults(auth_client, user):
    task = create_task(auth_client, user.pk, title="Buy milk")

    assert isinstance(task["id"], int)
    assert task["user_id"] == user.pk
    assert task["title"] == "Buy milk"
    assert task["description"] == ""
    assert task["completed"] is False
    assert task["completed_at"] is None
    assert task["priority"] == "none"
    assert task["due_date"] is None
    assert task["tags"] == []
    assert task["version"] == 1
    assert RFC3339_UTC.match(task["created_at"])
    assert RFC3339_UTC.match(task["updated_at"])


def test_create_with_every_writable_field(auth_client, user):
    task = create_task(
        auth_client,
        user.pk,
        title="Pay rent",
        description="Transfer before the 3rd",
        completed=False,
        priority="high",
        due_date="2026-12-01T17:00:00+02:00",
        tags=["home", "money"],
    )

    assert task["title"] == "Pay rent"
    assert task["description"] == "Transfer before the 3rd"
    assert task["priority"] == "high"
    assert task["due_date"] == "2026-12-01T15:00:00Z"
    assert task["tags"] == ["home", "money"]
    assert get_task(auth_client, user.pk, task["id"]) == task


def test_create_completed_task_sets_completed_at(auth_client, user):
    task = create_task(auth_client, user.pk, completed=True)

    assert task["completed"] is True
    assert RFC3339_UTC.match(task["completed_at"])


def test_read_only_fields_in_the_body_are_ignored(auth_client, user, other_user):
    first = create_task(auth_client, user.pk, title="First")

    response = auth_client.post(
        tasks_url(user.pk),
        {
            "title": "Second",
            "id": first["id"],
            "user_id": other_user.pk,
            "version": 42,
            "completed_at": "2000-01-01T00:00:00Z",
            "created_at": "2000-01-01T00:00:00Z",
            "updated_at": "2000-01-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    second = response.json()
    assert second["id"] != first["id"]
    assert second["user_id"] == user.pk
    assert second["version"] == 1
    assert second["completed_at"] is None
    assert not second["created_at"].startswith("2000")
    assert not second["updated_at"].startswith("2000")
    assert get_task(auth_client, user.pk, first["id"])["title"] == "First"


def test_user_id_in_the_body_never_gives_the_task_to_someone_else(auth_client, user, other_user, make_token):
    create_task(auth_client, user.pk, title="Mine", user_id=other_user.pk)

    other_list = bearer_client(other_user).get(tasks_url(other_user.pk))
    assert other_list.json() == []
    assert [task["title"] for task in auth_client.get(tasks_url(user.pk)).json()] == ["Mine"]


def test_unknown_fields_are_ignored(auth_client, user):
    task = create_task(auth_client, user.pk, title="Plain", colour="red", owner="root", is_staff=True)

    assert "colour" not in task
    assert "owner" not in task
    assert "is_staff" not in task


def test_create_without_title_is_400_naming_title(auth_client, user):
    response = auth_client.post(tasks_url(user.pk), {"description": "no title"}, format="json")

    assert_problem(response, 400, "validation_error", "title")
    assert auth_client.get(tasks_url(user.pk)).json() == []


@pytest.mark.parametrize("body", [[], ["title"], "title", 42], ids=repr)
def test_a_body_that_is_not_an_object_is_400(auth_client, user, body):
    response = auth_client.post(tasks_url(user.pk), body, format="json")

    assert_problem(response, 400, "validation_error")
    assert auth_client.get(tasks_url(user.pk)).json() == []


def test_malformed_json_is_400_malformed_json(auth_client, user):
    response = auth_client.generic(
        "POST", tasks_url(user.pk), b'{"title": "unterminated', content_type="application/json"
    )

    assert_problem(response, 400, "malformed_json")


def test_lone_surrogate_in_json_is_400_not_500(auth_client, user):
    response = auth_client.generic(
        "POST", tasks_url(user.pk), b'{"title": "broken \\ud800 text"}', content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert auth_client.get(tasks_url(user.pk)).json() == []


def test_form_encoded_body_is_415(auth_client, user):
    response = auth_client.post(tasks_url(user.pk), {"title": "form"}, format="multipart")

    assert_problem(response, 415, "unsupported_media_type")
    assert auth_client.get(tasks_url(user.pk)).json() == []


def test_create_without_a_token_is_401(api_client, user):
    response = api_client.post(tasks_url(user.pk), {"title": "anonymous"}, format="json")

    assert_problem(response, 401, "not_authenticated")
