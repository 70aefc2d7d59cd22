"""Detail, PUT, PATCH, DELETE and /complete/ of one task, including the seed frontend's calls."""

import pytest

from core.tests.support import assert_problem
from tasks.tests.api_support import RFC3339_UTC, SLASH, create_task, get_task, parse_time, tasks_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(auth_client, user):
    return create_task(
        auth_client,
        user.pk,
        title="Water plants",
        description="Balcony first",
        priority="medium",
        due_date="2026-12-01T17:00:00Z",
        tags=["home", "Garden"],
    )


# --- GET -----------------------------------------------------------------------------------------
@SLASH
def test_detail_returns_the_task_with_its_etag(auth_client, user, task, slash):
    response = auth_client.get(tasks_url(user.pk, task["id"], slash=slash))

    assert response.status_code == 200
    assert response.json() == task
    assert response["ETag"]


def test_unknown_task_is_404_problem(auth_client, user, task):
    response = auth_client.get(tasks_url(user.pk, task["id"] + 1000))

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
@pytest.mark.parametrize(
    "task_id", ["99999999999999999999999", "9223372036854775808", "0", "-1", "1.0", "1e3", "0x1", "%00"]
)
def test_out_of_range_or_malformed_task_id_is_404_not_500(auth_client, user, method, task_id):
    response = getattr(auth_client, method)(tasks_url(user.pk, task_id), {"title": "x"}, format="json")

    assert_problem(response, 404, "not_found")


def test_out_of_range_task_id_on_complete_is_404_not_500(auth_client, user):
    response = auth_client.patch(tasks_url(user.pk, "99999999999999999999999", "complete"))

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "parts"),
    [
        ("post", ("{id}",)),
        ("get", ("{id}", "complete")),
        ("put", ("{id}", "complete")),
        ("delete", ("stats",)),
        ("delete", ()),
        ("put", ()),
        ("patch", ()),
    ],
)
def test_unsupported_method_is_405_problem(auth_client, user, task, method, parts):
    url = tasks_url(user.pk, *(part.format(id=task["id"]) for part in parts))

    response = getattr(auth_client, method)(url, {}, format="json")

    assert_problem(response, 405, "method_not_allowed")
    assert get_task(auth_client, user.pk, task["id"]) == task


# --- PUT -----------------------------------------------------------------------------------------
@SLASH
def test_put_with_only_title_and_description_keeps_every_other_field(auth_client, user, task, slash):
    """The seed frontend's edit call: PUT /api/<id>/tasks/<id> {title, description}, no slash."""
    response = auth_client.put(
        tasks_url(user.pk, task["id"], slash=slash),
        {"title": "Water all plants", "description": "Kitchen too"},
        format="json",
    )

    assert response.status_code == 200, response.content
    updated = response.json()
    assert updated["title"] == "Water all plants"
    assert updated["description"] == "Kitchen too"
    for field in ("tags", "priority", "due_date", "completed", "completed_at", "created_at", "user_id"):
        assert updated[field] == task[field], field
    assert updated["version"] == task["version"] + 1
    assert get_task(auth_client, user.pk, task["id"]) == updated


def test_put_without_title_is_400_and_changes_nothing(auth_client, user, task):
    response = auth_client.put(tasks_url(user.pk, task["id"]), {"description": "no title"}, format="json")

    assert_problem(response, 400, "validation_error", "title")
    assert get_task(auth_client, user.pk, task["id"]) == task


def test_put_replaces_every_field_it_is_given(auth_client, user, task):
    body = {
        "title": "New",
        "description": "",
        "completed": True,
        "priority": "none",
        "due_date": None,
        "tags": ["other"],
    }

    updated = auth_client.put(tasks_url(user.pk, task["id"]), body, format="json").json()

    assert {field: updated[field] for field in body} == body
    assert RFC3339_UTC.match(updated["completed_at"])


def test_put_with_a_field_error_changes_nothing(auth_client, user, task):
    response = auth_client.put(
        tasks_url(user.pk, task["id"]), {"title": "Valid", "priority": "urgent"}, format="json"
    )

    assert_problem(response, 400, "validation_error", "priority")
    assert get_task(auth_client, user.pk, task["id"]) == task


# --- PATCH ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Renamed"),
        ("description", "Changed"),
        ("priority", "high"),
        ("due_date", "2027-01-01T00:00:00Z"),
        ("tags", ["solo"]),
        ("completed", True),
    ],
)
def test_patch_changes_only_the_field_given(auth_client, user, task, field, value):
    response = auth_client.patch(tasks_url(user.pk, task["id"], slash=False), {field: value}, format="json")

    assert response.status_code == 200, response.content
    updated = response.json()
    assert updated[field] == value
    unchanged = {"title", "description", "priority", "due_date", "tags", "completed", "created_at"} - {field}
    for other in unchanged:
        assert updated[other] == task[other], other
    assert updated["version"] == task["version"] + 1
    assert parse_time(updated["updated_at"]) > parse_time(task["updated_at"])
    assert get_task(auth_client, user.pk, task["id"]) == updated


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": "Water plants"},
        {"title": "  Water plants\n"},
        {"tags": ["Garden", "home"]},
        {"tags": ["HOME", "garden"]},
        {"priority": "medium", "completed": False, "due_date": "2026-12-01T18:00:00+01:00"},
        {"description": "Balcony first", "version": 99, "unknown": 1},
    ],
    ids=[
        "empty",
        "same-title",
        "same-title-untrimmed",
        "same-tags-reordered",
        "same-tags-other-case",
        "same-values",
        "same-description-and-ignored-fields",
    ],
)
def test_patch_that_changes_nothing_keeps_version_updated_at_and_etag(auth_client, user, task, body):
    before = auth_client.get(tasks_url(user.pk, task["id"]))

    response = auth_client.patch(tasks_url(user.pk, task["id"]), body, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == task
    assert response["ETag"] == before["ETag"]
    assert get_task(auth_client, user.pk, task["id"]) == task


def test_each_real_change_increments_version_by_one(auth_client, user, task):
    url = tasks_url(user.pk, task["id"])
    versions = [task["version"]]
    for body in ({"title": "a"}, {"title": "a"}, {"tags": []}, {"tags": []}, {"priority": "low"}):
        versions.append(auth_client.patch(url, body, format="json").json()["version"])

    assert versions == [1, 2, 2, 3, 3, 4]


def test_patch_with_an_invalid_field_changes_nothing_else(auth_client, user, task):
    response = auth_client.patch(
        tasks_url(user.pk, task["id"]), {"title": "Would change", "due_date": "2026-12-01"}, format="json"
    )

    assert_problem(response, 400, "validation_error", "due_date")
    assert get_task(auth_client, user.pk, task["id"]) == task


# --- completed_at --------------------------------------------------------------------------------
def test_completing_sets_completed_at_and_reopening_clears_it(auth_client, user, task):
    url = tasks_url(user.pk, task["id"])

    done = auth_client.patch(url, {"completed": True}, format="json").json()
    again = auth_client.patch(url, {"completed": True}, format="json").json()
    reopened = auth_client.patch(url, {"completed": False}, format="json").json()

    assert done["completed"] is True
    assert parse_time(done["completed_at"]) >= parse_time(task["updated_at"])
    assert again == done
    assert reopened["completed"] is False
    assert reopened["completed_at"] is None
    assert reopened["version"] == done["version"] + 1


def test_completed_at_in_the_body_is_ignored(auth_client, user, task):
    response = auth_client.patch(
        tasks_url(user.pk, task["id"]), {"completed_at": "2000-01-01T00:00:00Z"}, format="json"
    )

    assert response.json()["completed_at"] is None
    assert response.json()["version"] == task["version"]


# --- DELETE --------------------------------------------------------------------------------------
@SLASH
def test_delete_is_204_then_the_task_is_404(auth_client, user, task, slash):
    url = tasks_url(user.pk, task["id"], slash=slash)

    response = auth_client.delete(url)

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(auth_client.get(url), 404, "not_found")
    assert_problem(auth_client.delete(url), 404, "not_found")
    assert_problem(auth_client.patch(url, {"title": "back"}, format="json"), 404, "not_found")
    assert auth_client.get(tasks_url(user.pk)).json() == []


# --- /complete/ ----------------------------------------------------------------------------------
@SLASH
def test_complete_without_a_body_toggles(auth_client, user, task, slash):
    url = tasks_url(user.pk, task["id"], "complete", slash=slash)

    first = auth_client.patch(url)
    second = auth_client.patch(url)

    assert first.status_code == 200, first.content
    assert first.json()["completed"] is True
    assert RFC3339_UTC.match(first.json()["completed_at"])
    assert first.json()["version"] == task["version"] + 1
    assert parse_time(first.json()["updated_at"]) > parse_time(task["updated_at"])
    assert first["ETag"]
    assert second.json()["completed"] is False
    assert second.json()["completed_at"] is None
    assert second.json()["version"] == task["version"] + 2
    assert get_task(auth_client, user.pk, task["id"]) == second.json()


@pytest.mark.parametrize("completed", [True, False])
def test_complete_with_a_body_sets_and_is_safe_to_retry(auth_client, user, task, completed):
    url = tasks_url(user.pk, task["id"], "complete")
    if not completed:
        auth_client.patch(url, {"completed": True}, format="json")
    start = get_task(auth_client, user.pk, task["id"])

    first = auth_client.patch(url, {"completed": completed}, format="json").json()
    retry = auth_client.patch(url, {"completed": completed}, format="json").json()

    assert first["completed"] is completed
    assert (first["completed_at"] is not None) is completed
    assert first["version"] == start["version"] + 1
    assert retry == first


@pytest.mark.parametrize("value", ["true", 1, None, "yes"], ids=repr)
def test_complete_with_a_non_boolean_is_400_and_changes_nothing(auth_client, user, task, value):
    response = auth_client.patch(
        tasks_url(user.pk, task["id"], "complete"), {"completed": value}, format="json"
    )

    assert_problem(response, 400, "validation_error", "completed")
    assert get_task(auth_client, user.pk, task["id"]) == task


def test_complete_ignores_other_fields_in_its_body(auth_client, user, task):
    response = auth_client.patch(
        tasks_url(user.pk, task["id"], "complete"),
        {"completed": True, "title": "sneaky", "priority": "high"},
        format="json",
    )

    assert response.json()["completed"] is True
    assert (response.json()["title"], response.json()["priority"]) == (task["title"], task["priority"])


def test_unknown_sub_route_of_a_task_is_404(auth_client, user, task):
    for suffix in ("unknown", "complete/extra", "tags"):
        assert_problem(auth_client.get(tasks_url(user.pk, task["id"], suffix)), 404, "not_found")


def test_complete_of_an_unknown_task_is_404(auth_client, user, task):
    response = auth_client.patch(tasks_url(user.pk, task["id"] + 1000, "complete"))

    assert_problem(response, 404, "not_found")
