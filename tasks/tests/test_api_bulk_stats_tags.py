"""POST /tasks/bulk/, GET /tasks/stats/ and GET /tags/."""

import pytest

from core.tests.support import assert_problem
from tasks.tests.api_support import RFC3339_UTC, create_task, get_task, ids, parse_time, tags_url, tasks_url

pytestmark = pytest.mark.django_db

PAST = "2020-01-01T10:00:00Z"
FUTURE = "2999-01-01T10:00:00Z"
MISSING = 987654321


def bulk(client, user, body, slash=True):
    return client.post(tasks_url(user.pk, "bulk", slash=slash), body, format="json")


@pytest.fixture
def pending(auth_client, user):
    return [create_task(auth_client, user.pk, title=f"pending {n}") for n in range(3)]


@pytest.fixture
def done(auth_client, user):
    return [create_task(auth_client, user.pk, title=f"done {n}", completed=True) for n in range(2)]


# --- bulk ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
def test_bulk_complete_counts_only_tasks_it_changed_and_lists_missing_ids(
    auth_client, user, pending, done, slash
):
    body = {"action": "complete", "ids": [pending[0]["id"], done[0]["id"], MISSING, pending[1]["id"]]}

    response = bulk(auth_client, user, body, slash)

    assert response.status_code == 200, response.content
    assert response.json() == {"action": "complete", "affected": 2, "missing": [MISSING], "spawned": []}
    for task in (pending[0], pending[1]):
        now = get_task(auth_client, user.pk, task["id"])
        assert now["completed"] is True
        assert RFC3339_UTC.match(now["completed_at"])
        assert now["version"] == task["version"] + 1
        assert parse_time(now["updated_at"]) > parse_time(task["updated_at"])
    assert get_task(auth_client, user.pk, done[0]["id"]) == done[0]
    assert get_task(auth_client, user.pk, pending[2]["id"]) == pending[2]


def test_bulk_reopen_clears_completed_at_and_counts_only_changes(auth_client, user, pending, done):
    body = {"action": "reopen", "ids": [done[0]["id"], pending[0]["id"], done[1]["id"]]}

    response = bulk(auth_client, user, body)

    assert response.json() == {"action": "reopen", "affected": 2, "missing": [], "spawned": []}
    for task in done:
        now = get_task(auth_client, user.pk, task["id"])
        assert (now["completed"], now["completed_at"]) == (False, None)
        assert now["version"] == task["version"] + 1
    assert get_task(auth_client, user.pk, pending[0]["id"]) == pending[0]


def test_bulk_delete_deletes_the_given_tasks_only(auth_client, user, pending, done):
    body = {"action": "delete", "ids": [pending[0]["id"], done[1]["id"], MISSING]}

    response = bulk(auth_client, user, body)

    assert response.json() == {"action": "delete", "affected": 2, "missing": [MISSING], "spawned": []}
    remaining = ids(auth_client.get(tasks_url(user.pk)).json())
    assert sorted(remaining) == sorted([pending[1]["id"], pending[2]["id"], done[0]["id"]])


def test_bulk_delete_completed_deletes_every_completed_task_and_nothing_else(
    auth_client, user, pending, done
):
    response = bulk(auth_client, user, {"action": "delete_completed"})

    assert response.status_code == 200, response.content
    assert response.json()["action"] == "delete_completed"
    assert response.json()["affected"] == 2
    assert response.json().get("missing", []) == []
    assert sorted(ids(auth_client.get(tasks_url(user.pk)).json())) == sorted(ids(pending))


def test_bulk_delete_completed_with_nothing_completed_affects_zero(auth_client, user, pending):
    assert bulk(auth_client, user, {"action": "delete_completed"}).json()["affected"] == 0


def test_missing_ids_are_listed_in_the_order_given(auth_client, user, pending):
    order = [MISSING + 5, pending[0]["id"], MISSING, MISSING + 1]

    response = bulk(auth_client, user, {"action": "complete", "ids": order})

    assert response.json()["missing"] == [MISSING + 5, MISSING, MISSING + 1]


def test_duplicate_ids_count_each_task_once(auth_client, user, pending):
    task_id = pending[0]["id"]

    response = bulk(
        auth_client, user, {"action": "complete", "ids": [task_id, task_id, pending[1]["id"], task_id]}
    )

    assert response.json()["affected"] == 2
    assert response.json()["missing"] == []
    assert get_task(auth_client, user.pk, task_id)["version"] == pending[0]["version"] + 1


def test_bulk_delete_with_duplicate_ids_counts_each_task_once(auth_client, user, pending):
    task_id = pending[0]["id"]

    response = bulk(auth_client, user, {"action": "delete", "ids": [task_id, task_id]})

    assert response.json() == {"action": "delete", "affected": 1, "missing": [], "spawned": []}


def test_bulk_with_500_ids_is_accepted(auth_client, user, pending):
    many = [pending[0]["id"], *range(MISSING, MISSING + 499)]

    response = bulk(auth_client, user, {"action": "complete", "ids": many})

    assert response.status_code == 200, response.content
    assert response.json()["affected"] == 1
    assert response.json()["missing"] == many[1:]


@pytest.mark.parametrize("count", [0, 501])
def test_bulk_with_0_or_501_ids_is_400_and_changes_nothing(auth_client, user, pending, count):
    many = [pending[0]["id"], *range(MISSING, MISSING + count - 1)][:count]

    response = bulk(auth_client, user, {"action": "complete", "ids": many})

    assert_problem(response, 400, "validation_error", "ids")
    assert get_task(auth_client, user.pk, pending[0]["id"]) == pending[0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": "OWN"}, "action"),
        ({"action": "archive", "ids": "OWN"}, "action"),
        ({"action": None, "ids": "OWN"}, "action"),
        ({"action": "complete"}, "ids"),
        ({"action": "delete", "ids": None}, "ids"),
        ({"action": "complete", "ids": "1,2"}, "ids"),
        ({"action": "complete", "ids": ["one"]}, "ids"),
        ({"action": "complete", "ids": [1.5]}, "ids"),
        ({"action": "complete", "ids": [{"id": 1}]}, "ids"),
        ({"action": "complete", "ids": [True]}, "ids"),
    ],
    ids=repr,
)
def test_invalid_bulk_body_is_400_naming_the_field(auth_client, user, pending, body, field):
    # "OWN" stands for a real id of the caller's, so only the named field is wrong.
    body = {**body, "ids": [pending[0]["id"]]} if body.get("ids") == "OWN" else body

    response = bulk(auth_client, user, body)

    assert_problem(response, 400, "validation_error", field)
    assert get_task(auth_client, user.pk, pending[0]["id"]) == pending[0]


@pytest.mark.parametrize("huge", [2**63, -(2**63) - 1, 10**30])
def test_bulk_with_an_id_beyond_bigint_is_400_or_missing_never_500(auth_client, user, pending, huge):
    response = bulk(auth_client, user, {"action": "delete", "ids": [pending[0]["id"], huge]})

    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.json() == {"action": "delete", "affected": 1, "missing": [huge], "spawned": []}
    else:
        assert_problem(response, 400, "validation_error", "ids")
        assert get_task(auth_client, user.pk, pending[0]["id"]) == pending[0]


def test_bulk_get_is_405(auth_client, user):
    assert_problem(auth_client.get(tasks_url(user.pk, "bulk")), 405, "method_not_allowed")


# --- stats ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
def test_stats_count_total_completed_pending_and_overdue(auth_client, user, slash):
    create_task(auth_client, user.pk, title="overdue", due_date=PAST)
    create_task(auth_client, user.pk, title="future", due_date=FUTURE)
    create_task(auth_client, user.pk, title="undated")
    create_task(auth_client, user.pk, title="done late", due_date=PAST, completed=True)
    create_task(auth_client, user.pk, title="done", completed=True)

    response = auth_client.get(tasks_url(user.pk, "stats", slash=slash))

    assert response.status_code == 200, response.content
    assert response.json() == {"total": 5, "completed": 2, "pending": 3, "overdue": 1}


def test_stats_of_a_user_without_tasks_are_zero(auth_client, user):
    assert auth_client.get(tasks_url(user.pk, "stats")).json() == {
        "total": 0,
        "completed": 0,
        "pending": 0,
        "overdue": 0,
    }


def test_stats_follow_completion_and_deletion(auth_client, user):
    task = create_task(auth_client, user.pk, title="late", due_date=PAST)
    auth_client.patch(tasks_url(user.pk, task["id"], "complete"))
    after_complete = auth_client.get(tasks_url(user.pk, "stats")).json()
    auth_client.delete(tasks_url(user.pk, task["id"]))
    after_delete = auth_client.get(tasks_url(user.pk, "stats")).json()

    assert after_complete == {"total": 1, "completed": 1, "pending": 0, "overdue": 0}
    assert after_delete == {"total": 0, "completed": 0, "pending": 0, "overdue": 0}


def test_stats_is_not_mistaken_for_a_task_id(auth_client, user):
    assert_problem(auth_client.delete(tasks_url(user.pk, "stats")), 405, "method_not_allowed")


# --- tags ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
def test_tags_lists_each_tag_with_its_task_count_sorted_case_insensitively(auth_client, user, slash):
    create_task(auth_client, user.pk, title="a", tags=["home", "Work"])
    create_task(auth_client, user.pk, title="b", tags=["HOME", "errands"], completed=True)
    create_task(auth_client, user.pk, title="c", tags=["Home", "zebra", "Apple"])

    response = auth_client.get(tags_url(user.pk, slash=slash))

    assert response.status_code == 200, response.content
    assert response.json() == [
        {"name": "Apple", "task_count": 1},
        {"name": "errands", "task_count": 1},
        {"name": "home", "task_count": 3},
        {"name": "Work", "task_count": 1},
        {"name": "zebra", "task_count": 1},
    ]


def test_tags_without_tasks_are_not_listed(auth_client, user):
    kept = create_task(auth_client, user.pk, title="kept", tags=["stays"])
    dropped = create_task(auth_client, user.pk, title="dropped", tags=["gone", "stays"])
    retagged = create_task(auth_client, user.pk, title="retagged", tags=["old"])

    auth_client.delete(tasks_url(user.pk, dropped["id"]))
    auth_client.patch(tasks_url(user.pk, retagged["id"]), {"tags": ["new"]}, format="json")

    assert auth_client.get(tags_url(user.pk)).json() == [
        {"name": "new", "task_count": 1},
        {"name": "stays", "task_count": 1},
    ]
    assert kept["tags"] == ["stays"]


def test_tags_of_a_user_without_tasks_is_an_empty_array(auth_client, user):
    assert auth_client.get(tags_url(user.pk)).json() == []


def test_tags_is_read_only(auth_client, user):
    response = auth_client.post(tags_url(user.pk), {"name": "new"}, format="json")

    assert_problem(response, 405, "method_not_allowed")
