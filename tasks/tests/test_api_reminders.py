"""Reminders through the API (docs/API.md §7): the read shape, fire_at, the state rules, the
limits and every 400, and what they cost in queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.tests.support import assert_problem, bearer_client
from tasks.models import Reminder
from tasks.tests.api_support import create_task, get_task, tasks_url

pytestmark = pytest.mark.django_db


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def soon(**delta) -> datetime:
    return (timezone.now() + timedelta(**delta)).replace(microsecond=0)


def patch(client, user_id, task_id, **fields):
    response = client.patch(tasks_url(user_id, task_id), fields, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def states(task) -> list[str]:
    return [reminder["state"] for reminder in task["reminders"]]


def mark_sent(task_id: int, position: int, when: datetime) -> None:
    """What the delivery worker does once it has sent a reminder."""
    Reminder.objects.filter(task_id=task_id, position=position).update(state="sent", sent_at=when)


def test_the_read_shape_of_relative_and_absolute_reminders(auth_client, user):
    due = soon(days=3)
    at = soon(days=1)

    task = create_task(
        auth_client,
        user.pk,
        title="Dentist",
        due_date=iso(due),
        reminders=[{"before": "PT15M"}, {"at": iso(at)}],
    )

    assert task["reminders"] == [
        {"before": "PT15M", "fire_at": iso(due - timedelta(minutes=15)), "state": "pending", "sent_at": None},
        {"at": iso(at), "fire_at": iso(at), "state": "pending", "sent_at": None},
    ]
    assert get_task(auth_client, user.pk, task["id"]) == task
    assert auth_client.get(tasks_url(user.pk)).json() == [task]


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("PT0S", "PT0S"),
        ("pt15m", "PT15M"),
        ("PT90M", "PT1H30M"),
        ("P1W", "P7D"),
        ("P1DT12H", "P1DT12H"),
        ("PT3600S", "PT1H"),
        ("P30D", "P30D"),
        ("P4WT48H", "P28DT48H"),
    ],
)
def test_durations_are_read_back_normalised(auth_client, user, given, normalised):
    task = create_task(auth_client, user.pk, due_date=iso(soon(days=40)), reminders=[{"before": given}])

    assert task["reminders"][0]["before"] == normalised


def test_days_are_calendar_days_in_the_task_zone_across_daylight_saving(auth_client, user):
    # Monday March 29 2027, 09:00 in Berlin (CEST, 07:00 UTC). Berlin changes on Sunday March 28:
    # one day before is Sunday 09:00 CEST (07:00 UTC), two days before is Saturday 09:00 CET
    # (08:00 UTC, 47 hours earlier), and 48 hours before is 07:00 UTC on Saturday.
    task = create_task(
        auth_client,
        user.pk,
        due_date="2027-03-29T07:00:00Z",
        timezone="Europe/Berlin",
        reminders=[{"before": "P1D"}, {"before": "P2D"}, {"before": "PT48H"}],
    )

    assert [r["fire_at"] for r in task["reminders"]] == [
        "2027-03-28T07:00:00Z",
        "2027-03-27T08:00:00Z",
        "2027-03-27T07:00:00Z",
    ]


def test_a_reminder_already_past_when_written_is_skipped(auth_client, user):
    task = create_task(
        auth_client,
        user.pk,
        due_date=iso(soon(minutes=5)),
        reminders=[{"before": "PT1H"}, {"at": "2020-01-01T00:00:00Z"}, {"before": "PT1M"}],
    )

    assert states(task) == ["skipped", "skipped", "pending"]


def test_completing_skips_pending_reminders_and_reopening_rearms_those_ahead(auth_client, user):
    task = create_task(
        auth_client,
        user.pk,
        due_date=iso(soon(days=2)),
        reminders=[{"before": "PT1H"}, {"at": iso(soon(days=1))}],
    )

    completed = auth_client.patch(tasks_url(user.pk, task["id"], "complete")).json()
    reopened = auth_client.patch(tasks_url(user.pk, task["id"], "complete")).json()

    assert states(completed) == ["skipped", "skipped"]
    assert states(reopened) == ["pending", "pending"]
    assert states(get_task(auth_client, user.pk, task["id"])) == ["pending", "pending"]
    assert set(Reminder.objects.filter(task_id=task["id"]).values_list("state", flat=True)) == {"pending"}


def test_reopening_leaves_skipped_reminders_whose_time_passed(auth_client, user):
    task = create_task(auth_client, user.pk, due_date=iso(soon(minutes=30)), reminders=[{"before": "PT1H"}])

    patch(auth_client, user.pk, task["id"], completed=True)
    reopened = patch(auth_client, user.pk, task["id"], completed=False)

    assert states(reopened) == ["skipped"]


@pytest.mark.parametrize("path", ["patch", "bulk"])
def test_every_completion_path_skips_pending_reminders(auth_client, user, path):
    task = create_task(auth_client, user.pk, due_date=iso(soon(days=1)), reminders=[{"before": "PT1H"}])

    if path == "patch":
        patch(auth_client, user.pk, task["id"], completed=True)
    else:
        auth_client.post(
            tasks_url(user.pk, "bulk"), {"action": "complete", "ids": [task["id"]]}, format="json"
        )

    assert states(get_task(auth_client, user.pk, task["id"])) == ["skipped"]


def test_a_task_created_completed_has_its_reminders_skipped(auth_client, user):
    task = create_task(
        auth_client, user.pk, completed=True, due_date=iso(soon(days=1)), reminders=[{"before": "PT1H"}]
    )

    assert states(task) == ["skipped"]


def test_a_reminder_written_again_unchanged_keeps_its_state_and_sent_at(auth_client, user):
    due = soon(days=2)
    task = create_task(
        auth_client, user.pk, due_date=iso(due), reminders=[{"before": "P1D"}, {"before": "PT1H"}]
    )
    sent_at = soon(minutes=-1)
    mark_sent(task["id"], 0, sent_at)

    # Reordered, one added, and the list read back sent as it is (read-only keys are ignored).
    sent = get_task(auth_client, user.pk, task["id"])["reminders"][0]
    written = patch(
        auth_client, user.pk, task["id"], reminders=[{"before": "PT1H"}, sent, {"before": "PT5M"}]
    )

    assert written["reminders"] == [
        {"before": "PT1H", "fire_at": iso(due - timedelta(hours=1)), "state": "pending", "sent_at": None},
        {"before": "P1D", "fire_at": iso(due - timedelta(days=1)), "state": "sent", "sent_at": iso(sent_at)},
        {"before": "PT5M", "fire_at": iso(due - timedelta(minutes=5)), "state": "pending", "sent_at": None},
    ]
    assert written["version"] == task["version"] + 1


def test_writing_the_same_list_again_changes_nothing(auth_client, user):
    task = create_task(auth_client, user.pk, due_date=iso(soon(days=2)), reminders=[{"before": "PT1H"}])

    again = patch(auth_client, user.pk, task["id"], reminders=[{"before": "PT60M"}])

    assert again == task


def test_a_write_replaces_the_list(auth_client, user):
    task = create_task(
        auth_client, user.pk, due_date=iso(soon(days=2)), reminders=[{"before": "PT1H"}, {"before": "P1D"}]
    )

    emptied = patch(auth_client, user.pk, task["id"], reminders=[])

    assert emptied["reminders"] == []
    assert not Reminder.objects.filter(task_id=task["id"]).exists()


def test_moving_the_due_date_moves_relative_reminders_and_rearms_those_not_sent(auth_client, user):
    due = soon(days=2)
    at = soon(days=1)
    task = create_task(
        auth_client,
        user.pk,
        due_date=iso(due),
        reminders=[{"before": "PT1H"}, {"before": "P1D"}, {"at": iso(at)}, {"before": "PT2H"}],
    )
    mark_sent(task["id"], 1, soon(minutes=-2))
    Reminder.objects.filter(task_id=task["id"], position=3).update(state="failed")

    moved = patch(auth_client, user.pk, task["id"], due_date=iso(due + timedelta(days=1)))

    new_due = due + timedelta(days=1)
    assert [(r["fire_at"], r["state"]) for r in moved["reminders"]] == [
        (iso(new_due - timedelta(hours=1)), "pending"),
        (iso(new_due - timedelta(days=1)), "sent"),
        (iso(at), "pending"),
        (iso(new_due - timedelta(hours=2)), "pending"),
    ]


def test_changing_the_timezone_moves_day_reminders(auth_client, user):
    task = create_task(auth_client, user.pk, due_date="2027-03-29T07:00:00Z", reminders=[{"before": "P2D"}])

    moved = patch(auth_client, user.pk, task["id"], timezone="Europe/Berlin")

    assert task["reminders"][0]["fire_at"] == "2027-03-27T07:00:00Z"
    assert moved["reminders"][0]["fire_at"] == "2027-03-27T08:00:00Z"


def test_deleting_a_task_deletes_its_reminders(auth_client, user):
    task = create_task(auth_client, user.pk, due_date=iso(soon(days=2)), reminders=[{"before": "PT1H"}])

    assert auth_client.delete(tasks_url(user.pk, task["id"])).status_code == 204
    assert not Reminder.objects.filter(task_id=task["id"]).exists()


def test_the_successor_of_a_recurring_task_gets_fresh_relative_reminders_only(auth_client, user):
    task = create_task(
        auth_client,
        user.pk,
        title="Weekly",
        due_date="2030-01-07T09:00:00Z",
        recurrence="FREQ=WEEKLY",
        reminders=[{"before": "PT30M"}, {"at": "2030-01-06T09:00:00Z"}],
    )
    mark_sent(task["id"], 0, soon())

    successor_id = auth_client.patch(tasks_url(user.pk, task["id"], "complete")).json()["next_task_id"]

    assert get_task(auth_client, user.pk, successor_id)["reminders"] == [
        {"before": "PT30M", "fire_at": "2030-01-14T08:30:00Z", "state": "pending", "sent_at": None}
    ]
    assert states(get_task(auth_client, user.pk, task["id"])) == ["sent", "skipped"]
    row = Reminder.objects.get(task_id=successor_id)
    assert row.user_id == user.pk


def test_reminders_are_written_for_their_owner_only(auth_client, user, other_user):
    theirs = create_task(bearer_client(other_user), other_user.pk, due_date=iso(soon(days=1)))

    response = auth_client.patch(
        tasks_url(user.pk, theirs["id"]), {"reminders": [{"before": "PT1H"}]}, format="json"
    )

    assert_problem(response, 404, "not_found")
    assert not Reminder.objects.filter(task_id=theirs["id"]).exists()


# --- Validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reminders", "message"),
    [
        ([{"before": "PT1M"}] * 6, "A task has at most 5 reminders (got 6)."),
        ({"before": "PT1M"}, 'Expected a list of reminders such as [{"before": "PT15M"}].'),
        (["PT1M"], 'reminders[0]: Expected an object with "before" or "at".'),
        ([{}], 'reminders[0]: Give exactly one of "before" (a duration) or "at" (a date-time).'),
        (
            [{"before": "PT1M", "at": "2030-01-01T00:00:00Z"}],
            'reminders[0]: Give exactly one of "before" (a duration) or "at" (a date-time).',
        ),
        ([{"before": "P31D"}], "reminders[0].before: Must be at most P30D (30 days)."),
        ([{"before": "P30DT1S"}], "reminders[0].before: Must be at most P30D (30 days)."),
        ([{"before": "P5W"}], "reminders[0].before: Must be at most P30D (30 days)."),
        ([{"before": "P1M"}], None),
        ([{"before": "P1Y"}], None),
        ([{"before": "-PT1M"}], None),
        ([{"before": "PT1.5M"}], None),
        ([{"before": "P"}], None),
        ([{"before": "PT"}], None),
        ([{"before": "15 minutes"}], None),
        ([{"before": 900}], None),
        ([{"before": "PT1M\x00"}], None),
        ([{"before": "P" + "9" * 10_000 + "D"}], None),
        (
            [{"at": "2030-01-01T09:00:00"}],
            "reminders[0].at: The date-time has no offset: add Z or +HH:MM, such as 2026-12-01T17:00:00Z.",
        ),
        (
            [{"at": "2030-01-01"}],
            "reminders[0].at: A bare date is not enough: give a date-time with an offset, "
            "such as 2026-12-01T17:00:00Z.",
        ),
        (
            [{"before": "PT1M"}, {"at": None}],
            "reminders[1].at: Expected an RFC 3339 date-time string such as 2026-12-01T17:00:00Z.",
        ),
    ],
)
def test_bad_reminders_are_a_400_keyed_reminders(auth_client, user, reminders, message):
    response = auth_client.post(
        tasks_url(user.pk),
        {"title": "x", "due_date": "2030-01-01T10:00:00Z", "reminders": reminders},
        format="json",
    )

    body = assert_problem(response, 400, "validation_error", "reminders")
    expected = message or (
        "reminders[0].before: Must be an ISO 8601 duration of weeks, days, hours, minutes and seconds from "
        "PT0S to P30D, such as PT15M or P1D."
    )
    assert body["errors"]["reminders"] == [expected]


def test_a_relative_reminder_needs_a_due_date(auth_client, user):
    created = auth_client.post(
        tasks_url(user.pk),
        {"title": "x", "reminders": [{"at": iso(soon(days=1))}, {"before": "PT1H"}]},
        format="json",
    )
    plain = create_task(auth_client, user.pk, title="No due date")
    patched = auth_client.patch(
        tasks_url(user.pk, plain["id"]), {"reminders": [{"before": "PT1H"}]}, format="json"
    )
    absolute = patch(auth_client, user.pk, plain["id"], reminders=[{"at": iso(soon(days=1))}])

    message = "A reminder relative to the due date needs a due date."
    for response, index in ((created, 1), (patched, 0)):
        body = assert_problem(response, 400, "validation_error", "reminders")
        assert body["errors"]["reminders"] == [f"reminders[{index}].before: {message}"]
    assert states(absolute) == ["pending"]


def test_clearing_the_due_date_while_relative_reminders_remain_is_a_400_keyed_due_date(auth_client, user):
    task = create_task(auth_client, user.pk, due_date=iso(soon(days=1)), reminders=[{"before": "PT1H"}])

    response = auth_client.patch(tasks_url(user.pk, task["id"]), {"due_date": None}, format="json")
    both = auth_client.patch(
        tasks_url(user.pk, task["id"]), {"due_date": None, "reminders": []}, format="json"
    )

    body = assert_problem(response, 400, "validation_error", "due_date")
    assert body["errors"]["due_date"] == [
        "This task has reminders relative to its due date: remove them to clear the due date."
    ]
    assert both.status_code == 200 and both.json()["due_date"] is None


# --- Query counts ----------------------------------------------------------------------------------
@pytest.fixture
def known(auth_client, user):
    auth_client.get(tasks_url(user.pk, "stats"))
    return auth_client


def count_statements(call) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, [query["sql"] for query in captured if "SAVEPOINT" not in query["sql"]]


def test_creating_a_task_with_reminders_costs_one_statement_more(known, user):
    body = {"title": "R", "due_date": iso(soon(days=1)), "reminders": [{"before": "PT1H"}, {"before": "P1D"}]}

    response, statements = count_statements(lambda: known.post(tasks_url(user.pk), body, format="json"))

    assert response.status_code == 201
    assert len(statements) == 2, statements


def test_the_list_stays_one_statement_with_reminders(known, user, django_assert_max_num_queries):
    for n in range(20):
        create_task(
            known,
            user.pk,
            title=f"t{n}",
            due_date=iso(soon(days=2)),
            reminders=[{"before": "PT1H"}] * (n % 3),
            tags=["a"],
        )

    with django_assert_max_num_queries(2):
        response = known.get(tasks_url(user.pk), {"limit": 100})

    assert sorted(len(task["reminders"]) for task in response.json()) == sorted(n % 3 for n in range(20))


def test_updating_reminders_stays_within_its_budget(known, user):
    task = create_task(known, user.pk, title="R", due_date=iso(soon(days=1)), reminders=[{"before": "PT1H"}])

    response, statements = count_statements(
        lambda: known.patch(
            tasks_url(user.pk, task["id"]), {"reminders": [{"before": "PT2H"}]}, format="json"
        )
    )

    assert response.status_code == 200
    # The row lock (reading the reminders with the task), the reminders' delete and insert, the task.
    assert len(statements) <= 4, statements


def test_completing_and_reopening_a_task_with_reminders_stays_one_statement_on_postgresql(known, user):
    """On PostgreSQL the reminders' states move in the completing statement itself (a data-modifying
    WITH); SQLite has none, so there the task takes the locked path (lock, reminders, task)."""
    task = create_task(known, user.pk, title="R", due_date=iso(soon(days=1)), reminders=[{"before": "PT1H"}])
    budget = 1 if connection.vendor == "postgresql" else 5

    done, completing = count_statements(lambda: known.patch(tasks_url(user.pk, task["id"], "complete")))
    reopened, reopening = count_statements(
        lambda: known.patch(tasks_url(user.pk, task["id"]), {"completed": False}, format="json")
    )

    assert states(done.json()) == ["skipped"] and states(reopened.json()) == ["pending"]
    assert len(completing) <= budget, completing
    assert len(reopening) <= budget, reopening
    assert states(get_task(known, user.pk, task["id"])) == ["pending"]
