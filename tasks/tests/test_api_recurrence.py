"""Recurring tasks through the API (docs/API.md §6): the fields, every completion path spawning
exactly one successor, the end of a series, the occurrences route, and hostile input."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.tests.support import assert_problem, bearer_client
from tasks.models import Task
from tasks.tests.api_support import create_task, get_task, postgres_only, run_concurrently, tasks_url

pytestmark = pytest.mark.django_db

WEEKLY = {"title": "Stand-up", "due_date": "2026-12-07T08:00:00Z", "recurrence": "FREQ=WEEKLY;BYDAY=MO,WE"}


def complete_by_patch(client, user_id, task_id):
    return client.patch(tasks_url(user_id, task_id), {"completed": True}, format="json")


def complete_by_put(client, user_id, task_id):
    return client.put(tasks_url(user_id, task_id), {"title": "Stand-up", "completed": True}, format="json")


def complete_by_toggle(client, user_id, task_id):
    return client.patch(tasks_url(user_id, task_id, "complete"))


def complete_by_set(client, user_id, task_id):
    return client.patch(tasks_url(user_id, task_id, "complete"), {"completed": True}, format="json")


def complete_by_bulk(client, user_id, task_id):
    return client.post(tasks_url(user_id, "bulk"), {"action": "complete", "ids": [task_id]}, format="json")


COMPLETION_PATHS = [complete_by_patch, complete_by_put, complete_by_toggle, complete_by_set, complete_by_bulk]


def successors(user, task_id):
    return list(Task.objects.filter(user=user).exclude(pk=task_id).order_by("pk"))


def test_a_task_without_recurrence_reads_back_the_defaults(auth_client, user):
    task = create_task(auth_client, user.pk, title="Plain")

    assert task["recurrence"] is None
    assert task["timezone"] == "UTC"
    assert task["next_task_id"] is None
    assert task["reminders"] == []
    assert get_task(auth_client, user.pk, task["id"]) == task


def test_recurrence_and_timezone_read_back_normalised_on_every_route(auth_client, user):
    task = create_task(
        auth_client,
        user.pk,
        title="Gym",
        due_date="2026-12-07T08:00:00Z",
        recurrence="byday=we,mo;freq=weekly;interval=1",
        timezone="Europe/Berlin",
    )

    assert task["recurrence"] == "FREQ=WEEKLY;BYDAY=WE,MO"
    assert task["timezone"] == "Europe/Berlin"
    listed = auth_client.get(tasks_url(user.pk)).json()
    assert listed == [get_task(auth_client, user.pk, task["id"])] == [task]


@pytest.mark.parametrize("complete", COMPLETION_PATHS, ids=lambda f: f.__name__)
def test_every_completion_path_spawns_exactly_one_successor(auth_client, user, complete):
    task = create_task(
        auth_client,
        user.pk,
        **WEEKLY,
        description="Daily sync",
        priority="high",
        tags=["work", "Team"],
        timezone="Europe/Berlin",
    )

    response = complete(auth_client, user.pk, task["id"])

    assert response.status_code == 200, response.content
    spawned = successors(user, task["id"])
    assert len(spawned) == 1
    done = get_task(auth_client, user.pk, task["id"])
    assert done["completed"] is True
    assert done["next_task_id"] == spawned[0].pk
    successor = get_task(auth_client, user.pk, spawned[0].pk)
    assert successor == {
        **successor,
        "title": "Stand-up",
        "description": "Daily sync",
        "priority": "high",
        "tags": ["Team", "work"],
        "timezone": "Europe/Berlin",
        "recurrence": "FREQ=WEEKLY;BYDAY=MO,WE",
        "completed": False,
        "completed_at": None,
        "next_task_id": None,
        "due_date": "2026-12-09T08:00:00Z",  # Wednesday 09:00 Berlin
        "version": 1,
    }
    if complete is complete_by_bulk:
        assert response.json()["spawned"] == [spawned[0].pk]
    elif complete is not complete_by_bulk:
        assert response.json()["next_task_id"] == spawned[0].pk


@pytest.mark.parametrize("complete", COMPLETION_PATHS, ids=lambda f: f.__name__)
def test_reopening_and_completing_again_spawns_nothing_more(auth_client, user, complete):
    task = create_task(auth_client, user.pk, **WEEKLY)
    complete(auth_client, user.pk, task["id"])
    first = successors(user, task["id"])

    reopened = auth_client.patch(tasks_url(user.pk, task["id"]), {"completed": False}, format="json")
    complete(auth_client, user.pk, task["id"])

    assert reopened.json()["completed"] is False
    assert reopened.json()["next_task_id"] == first[0].pk
    assert successors(user, task["id"]) == first
    assert get_task(auth_client, user.pk, task["id"])["completed"] is True


def test_completing_an_already_completed_task_spawns_nothing(auth_client, user):
    task = create_task(auth_client, user.pk, **WEEKLY)
    complete_by_set(auth_client, user.pk, task["id"])

    again = complete_by_set(auth_client, user.pk, task["id"])
    bulk = complete_by_bulk(auth_client, user.pk, task["id"])

    assert again.json()["version"] == 2
    assert bulk.json() == {"action": "complete", "affected": 0, "missing": [], "spawned": []}
    assert len(successors(user, task["id"])) == 1


def test_a_task_created_completed_spawns_nothing(auth_client, user):
    task = create_task(auth_client, user.pk, **WEEKLY, completed=True)

    assert task["next_task_id"] is None
    assert successors(user, task["id"]) == []


def test_the_successor_is_completed_in_turn_along_the_series(auth_client, user):
    task = create_task(
        auth_client, user.pk, title="Pay rent", due_date="2027-01-31T09:00:00Z", recurrence="FREQ=MONTHLY"
    )
    dates = []
    for _ in range(3):
        done = complete_by_toggle(auth_client, user.pk, task["id"]).json()
        task = get_task(auth_client, user.pk, done["next_task_id"])
        dates.append(task["due_date"])

    # Anchored at January 31: months without a 31st are skipped, and the 31st is kept after them.
    assert dates == ["2027-03-31T09:00:00Z", "2027-05-31T09:00:00Z", "2027-07-31T09:00:00Z"]


def test_count_counts_down_and_the_last_occurrence_spawns_nothing(auth_client, user):
    task = create_task(
        auth_client, user.pk, title="Course", due_date="2026-12-01T10:00:00Z", recurrence="FREQ=DAILY;COUNT=2"
    )

    second_id = complete_by_toggle(auth_client, user.pk, task["id"]).json()["next_task_id"]
    second = get_task(auth_client, user.pk, second_id)
    last = complete_by_toggle(auth_client, user.pk, second_id).json()

    assert second["recurrence"] == "FREQ=DAILY;COUNT=1"
    assert second["due_date"] == "2026-12-02T10:00:00Z"
    assert last["completed"] is True and last["next_task_id"] is None
    assert Task.objects.filter(user=user).count() == 2


@pytest.mark.parametrize("until", ["20261202", "20261202T100000Z"])
def test_until_ends_the_series_inclusively(auth_client, user, until):
    task = create_task(
        auth_client,
        user.pk,
        title="Until",
        due_date="2026-12-01T10:00:00Z",
        recurrence=f"FREQ=DAILY;UNTIL={until}",
    )

    second_id = complete_by_toggle(auth_client, user.pk, task["id"]).json()["next_task_id"]
    last = complete_by_toggle(auth_client, user.pk, second_id).json()

    assert get_task(auth_client, user.pk, second_id)["due_date"] == "2026-12-02T10:00:00Z"
    assert last["next_task_id"] is None


def test_berlin_mornings_stay_at_09_00_across_the_spring_change(auth_client, user):
    task = create_task(
        auth_client,
        user.pk,
        title="Standup",
        due_date="2027-03-26T08:00:00Z",  # Friday 09:00 CET
        recurrence="FREQ=WEEKLY;BYDAY=MO,FR",
        timezone="Europe/Berlin",
    )

    following = auth_client.get(tasks_url(user.pk, task["id"], "occurrences"), {"limit": 3}).json()

    assert following == {
        "occurrences": ["2027-03-29T07:00:00Z", "2027-04-02T07:00:00Z", "2027-04-05T07:00:00Z"]
    }


def test_next_task_id_stays_when_the_successor_is_deleted(auth_client, user):
    task = create_task(auth_client, user.pk, **WEEKLY)
    successor_id = complete_by_toggle(auth_client, user.pk, task["id"]).json()["next_task_id"]

    assert auth_client.delete(tasks_url(user.pk, successor_id)).status_code == 204
    complete_by_toggle(auth_client, user.pk, task["id"])
    complete_by_toggle(auth_client, user.pk, task["id"])

    assert get_task(auth_client, user.pk, task["id"])["next_task_id"] == successor_id
    assert successors(user, task["id"]) == []


def test_the_admin_complete_action_spawns_like_the_api(admin_client, auth_client, user):
    task = create_task(auth_client, user.pk, **WEEKLY)

    response = admin_client.post(
        "/admin/tasks/task/", {"action": "complete_tasks", "_selected_action": [task["id"]]}, follow=True
    )

    assert response.status_code == 200
    spawned = successors(user, task["id"])
    assert len(spawned) == 1
    assert get_task(auth_client, user.pk, task["id"])["next_task_id"] == spawned[0].pk
    page = admin_client.get(f"/admin/tasks/task/{task['id']}/change/").content.decode()
    assert "FREQ=WEEKLY;BYDAY=MO,WE" in page
    assert f"#{spawned[0].pk}" in page


def test_bulk_complete_reports_every_spawned_successor_and_completes_plain_tasks_too(auth_client, user):
    recurring = [create_task(auth_client, user.pk, **WEEKLY)["id"] for _ in range(2)]
    plain = create_task(auth_client, user.pk, title="Plain")["id"]

    response = auth_client.post(
        tasks_url(user.pk, "bulk"), {"action": "complete", "ids": [*recurring, plain, 999999]}, format="json"
    )

    body = response.json()
    assert body["affected"] == 3 and body["missing"] == [999999]
    assert sorted(body["spawned"]) == sorted(
        get_task(auth_client, user.pk, i)["next_task_id"] for i in recurring
    )
    assert len(body["spawned"]) == 2
    assert get_task(auth_client, user.pk, plain)["completed"] is True


def test_bulk_reopen_and_delete_spawn_nothing(auth_client, user):
    task = create_task(auth_client, user.pk, **WEEKLY, completed=True)

    reopen = auth_client.post(
        tasks_url(user.pk, "bulk"), {"action": "reopen", "ids": [task["id"]]}, format="json"
    )
    delete = auth_client.post(
        tasks_url(user.pk, "bulk"), {"action": "delete", "ids": [task["id"]]}, format="json"
    )

    assert reopen.json() == {"action": "reopen", "affected": 1, "missing": [], "spawned": []}
    assert delete.json() == {"action": "delete", "affected": 1, "missing": [], "spawned": []}
    assert Task.objects.filter(user=user).count() == 0


def test_another_users_recurring_task_cannot_be_completed_or_read(auth_client, user, other_user):
    theirs = create_task(bearer_client(other_user), other_user.pk, **WEEKLY)

    assert_problem(complete_by_toggle(auth_client, user.pk, theirs["id"]), 404, "not_found")
    assert_problem(complete_by_patch(auth_client, user.pk, theirs["id"]), 404, "not_found")
    assert_problem(auth_client.get(tasks_url(user.pk, theirs["id"], "occurrences")), 404, "not_found")
    bulk = complete_by_bulk(auth_client, user.pk, theirs["id"])
    assert bulk.json() == {"action": "complete", "affected": 0, "missing": [theirs["id"]], "spawned": []}
    assert Task.objects.filter(user=other_user).count() == 1
    assert Task.objects.get(pk=theirs["id"]).completed is False


# --- The occurrences route ------------------------------------------------------------------------
def test_occurrences_lists_the_next_five_by_default(auth_client, user):
    task = create_task(
        auth_client, user.pk, title="Daily", due_date="2026-12-01T10:00:00Z", recurrence="FREQ=DAILY"
    )

    response = auth_client.get(tasks_url(user.pk, task["id"], "occurrences", slash=False))

    assert response.status_code == 200
    assert response.json() == {"occurrences": [f"2026-12-0{day}T10:00:00Z" for day in range(2, 7)]}


def test_occurrences_stop_with_the_series_and_are_empty_for_a_plain_task(auth_client, user):
    counted = create_task(
        auth_client, user.pk, title="C", due_date="2026-12-01T10:00:00Z", recurrence="FREQ=DAILY;COUNT=3"
    )
    plain = create_task(auth_client, user.pk, title="Plain", due_date="2026-12-01T10:00:00Z")

    assert auth_client.get(tasks_url(user.pk, counted["id"], "occurrences"), {"limit": 50}).json() == {
        "occurrences": ["2026-12-02T10:00:00Z", "2026-12-03T10:00:00Z"]
    }
    assert auth_client.get(tasks_url(user.pk, plain["id"], "occurrences")).json() == {"occurrences": []}


@pytest.mark.parametrize("limit", ["0", "51", "-1", "abc", "1.5", "9" * 30, ""])
def test_an_invalid_occurrences_limit_is_a_400_naming_limit(auth_client, user, limit):
    task = create_task(auth_client, user.pk, **WEEKLY)

    response = auth_client.get(tasks_url(user.pk, task["id"], "occurrences"), {"limit": limit})

    assert_problem(response, 400, "validation_error", "limit")


def test_occurrences_of_a_missing_task_is_404(auth_client, user):
    assert_problem(auth_client.get(tasks_url(user.pk, 987654, "occurrences")), 404, "not_found")


def test_occurrences_is_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert any(path.endswith("/occurrences/") or path.endswith("/occurrences") for path in schema["paths"])


# --- Validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("recurrence", "message"),
    [
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given more than once."),
        ("FREQ=DAILY;INTERVAL=100000000000000000000", "INTERVAL must be a whole number from 1 to 999."),
        (
            "FREQ=MONTHLY;BYSETPOS=1",
            "BYSETPOS is not supported; use FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYMONTH, COUNT, UNTIL.",
        ),
        ("RRULE:FREQ=DAILY", "Give the rule without the RRULE: prefix, such as FREQ=WEEKLY;BYDAY=MO."),
        ("FREQ=DAILY\u0000", "Control characters are not allowed."),
        ("FREQ=" + "D" * 10_000, "Ensure this field has no more than 255 characters."),
        (["FREQ=DAILY"], "Must be a string such as FREQ=WEEKLY;BYDAY=MO."),
        ("FREQ=DAILY;COUNT=5;UNTIL=20270101", "COUNT and UNTIL cannot both be given."),
    ],
)
def test_a_bad_rule_is_a_400_keyed_recurrence_naming_the_part(auth_client, user, recurrence, message):
    response = auth_client.post(
        tasks_url(user.pk),
        {"title": "x", "due_date": "2026-12-01T10:00:00Z", "recurrence": recurrence},
        format="json",
    )

    body = assert_problem(response, 400, "validation_error", "recurrence")
    assert body["errors"]["recurrence"] == [message]


@pytest.mark.parametrize(
    "zone",
    [
        "../etc/passwd",
        "/etc/localtime",
        "Mars/Olympus",
        "europe/berlin",
        "",
        "UTC\x00",
        "A" * 10_000,
        None,
        5,
    ],
)
def test_an_unknown_timezone_is_a_400(auth_client, user, zone):
    response = auth_client.post(tasks_url(user.pk), {"title": "x", "timezone": zone}, format="json")

    body = assert_problem(response, 400, "validation_error", "timezone")
    assert len(body["errors"]["timezone"][0]) < 200


def test_recurrence_without_a_due_date_is_a_400_keyed_due_date(auth_client, user):
    response = auth_client.post(tasks_url(user.pk), {"title": "x", "recurrence": "FREQ=DAILY"}, format="json")
    plain = create_task(auth_client, user.pk, title="No due date")
    patched = auth_client.patch(tasks_url(user.pk, plain["id"]), {"recurrence": "FREQ=DAILY"}, format="json")

    for bad in (response, patched):
        body = assert_problem(bad, 400, "validation_error", "due_date")
        assert body["errors"]["due_date"] == ["A recurring task needs a due date."]
    assert get_task(auth_client, user.pk, plain["id"])["recurrence"] is None


@pytest.mark.parametrize("method", ["patch", "put"])
def test_clearing_the_due_date_of_a_recurring_task_is_a_400_keyed_due_date(auth_client, user, method):
    task = create_task(auth_client, user.pk, **WEEKLY)

    response = getattr(auth_client, method)(
        tasks_url(user.pk, task["id"]), {"title": "Stand-up", "due_date": None}, format="json"
    )

    body = assert_problem(response, 400, "validation_error", "due_date")
    assert body["errors"]["due_date"] == ["A recurring task needs a due date."]
    assert get_task(auth_client, user.pk, task["id"]) == task


def test_clearing_recurrence_and_due_date_together_is_allowed(auth_client, user):
    task = create_task(auth_client, user.pk, **WEEKLY)

    response = auth_client.patch(
        tasks_url(user.pk, task["id"]), {"recurrence": None, "due_date": None}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["recurrence"], response.json()["due_date"]) == (None, None)
    complete_by_toggle(auth_client, user.pk, task["id"])
    assert successors(user, task["id"]) == []


def test_moving_the_due_date_reanchors_the_series(auth_client, user):
    task = create_task(
        auth_client, user.pk, title="Monthly", due_date="2027-01-31T09:00:00Z", recurrence="FREQ=MONTHLY"
    )

    auth_client.patch(tasks_url(user.pk, task["id"]), {"due_date": "2027-01-15T09:00:00Z"}, format="json")
    successor_id = complete_by_toggle(auth_client, user.pk, task["id"]).json()["next_task_id"]

    assert get_task(auth_client, user.pk, successor_id)["due_date"] == "2027-02-15T09:00:00Z"


def test_an_idempotent_create_replays_the_new_fields(auth_client, user):
    body = {**WEEKLY, "timezone": "America/New_York", "reminders": [{"before": "PT10M"}]}
    first = auth_client.post(tasks_url(user.pk), body, format="json", HTTP_IDEMPOTENCY_KEY="rec-1")
    again = auth_client.post(tasks_url(user.pk), body, format="json", HTTP_IDEMPOTENCY_KEY="rec-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert first.json()["recurrence"] == "FREQ=WEEKLY;BYDAY=MO,WE"
    assert first.json()["reminders"][0]["before"] == "PT10M"


# --- Query counts ----------------------------------------------------------------------------------
def test_completing_a_recurring_task_stays_within_its_budget(auth_client, user):
    task = create_task(auth_client, user.pk, **WEEKLY, tags=["a", "b"])
    auth_client.get(tasks_url(user.pk, "stats"))  # the user is known to this process

    with CaptureQueriesContext(connection) as captured:
        response = complete_by_toggle(auth_client, user.pk, task["id"])

    statements = [query["sql"] for query in captured if "SAVEPOINT" not in query["sql"]]
    assert response.status_code == 200
    # The guarded toggle, the read that finds why, the row lock, the successor (one statement on
    # PostgreSQL with its tags; three on SQLite), the task's update claiming the spawn.
    assert len(statements) <= (5 if connection.vendor == "postgresql" else 7), statements


def test_a_plain_title_edit_of_a_recurring_task_is_one_statement(
    auth_client, user, django_assert_max_num_queries
):
    task = create_task(auth_client, user.pk, **WEEKLY)
    auth_client.get(tasks_url(user.pk, "stats"))

    with django_assert_max_num_queries(1):
        response = auth_client.patch(tasks_url(user.pk, task["id"]), {"title": "Renamed"}, format="json")

    assert response.json()["title"] == "Renamed"


# --- Races (PostgreSQL) ----------------------------------------------------------------------------
@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "complete", [complete_by_set, complete_by_toggle, complete_by_bulk, complete_by_patch]
)
def test_concurrent_double_completion_spawns_one_successor(user, complete):
    client = bearer_client(user)
    task = create_task(client, user.pk, **WEEKLY)
    writers = 4 if complete is not complete_by_toggle else 2

    responses = run_concurrently(
        *(lambda: complete(bearer_client(user), user.pk, task["id"]) for _ in range(writers))
    )

    assert all(response.status_code == 200 for response in responses)
    spawned = successors(user, task["id"])
    assert len(spawned) == 1
    assert Task.objects.get(pk=task["id"]).next_task_id == spawned[0].pk
