"""X-Total-Count of an unfiltered (or status-only) list comes from the per-user counts the database
triggers keep (tasks.TaskCount): whatever writes the tasks, it must equal a real count."""

import pytest

from accounts.tests.factories import UserFactory
from core.tests.support import bearer_client
from tasks.models import Task, TaskCount
from tasks.tests.api_support import create_task, tasks_url
from tasks.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=False)


def listed_totals(client, user_id: str) -> dict[str, int]:
    totals = {}
    for status in ("all", "pending", "completed"):
        response = client.get(tasks_url(user_id), {"status": status, "limit": 1})
        assert response.status_code == 200, response.content
        totals[status] = int(response["X-Total-Count"])
    return totals


def counted(user) -> dict[str, int]:
    tasks = Task.objects.filter(user=user)
    completed = tasks.filter(completed=True).count()
    return {"all": tasks.count(), "pending": tasks.count() - completed, "completed": completed}


def test_a_new_user_lists_zero_tasks(user, make_token):
    assert listed_totals(bearer_client(user), user.pk) == {"all": 0, "pending": 0, "completed": 0}


def test_totals_follow_every_kind_of_api_write(user, other_user, make_token):
    client = bearer_client(user)
    ids = [create_task(client, user.pk, title=f"T{n}")["id"] for n in range(6)]
    create_task(bearer_client(other_user), other_user.pk, title="Not mine")
    assert listed_totals(client, user.pk) == {"all": 6, "pending": 6, "completed": 0}

    assert client.patch(tasks_url(user.pk, ids[0], "complete")).status_code == 200
    assert client.patch(tasks_url(user.pk, ids[1]), {"completed": True}, format="json").status_code == 200
    assert client.put(tasks_url(user.pk, ids[2]), {"title": "Renamed"}, format="json").status_code == 200
    assert listed_totals(client, user.pk) == {"all": 6, "pending": 4, "completed": 2}

    bulk = client.post(tasks_url(user.pk, "bulk"), {"action": "complete", "ids": ids[2:5]}, format="json")
    assert bulk.status_code == 200
    assert listed_totals(client, user.pk) == {"all": 6, "pending": 1, "completed": 5}

    assert client.patch(tasks_url(user.pk, ids[0], "complete")).status_code == 200  # reopened
    assert client.delete(tasks_url(user.pk, ids[5])).status_code == 204
    assert listed_totals(client, user.pk) == {"all": 5, "pending": 1, "completed": 4}

    bulk = client.post(tasks_url(user.pk, "bulk"), {"action": "delete_completed"}, format="json")
    assert bulk.json()["affected"] == 4
    assert listed_totals(client, user.pk) == {"all": 1, "pending": 1, "completed": 0} == counted(user)
    assert listed_totals(bearer_client(other_user), other_user.pk)["all"] == 1


def test_totals_include_tasks_written_outside_the_api(user, make_token):
    TaskFactory.create_batch(3, user=user)
    Task.objects.bulk_create([Task(user=user, title=f"Bulk {n}", completed=n % 2 == 0) for n in range(5)])
    Task.objects.filter(user=user, title__startswith="Bulk").update(completed=True)
    Task.objects.filter(user=user, title="Bulk 0").delete()
    expected = {"all": 7, "pending": 3, "completed": 4}
    assert listed_totals(bearer_client(user), user.pk) == counted(user) == expected


def test_moving_tasks_to_another_user_moves_their_counts(user, other_user, make_token):
    TaskFactory.create_batch(2, user=user, completed=True)
    TaskFactory.create_batch(1, user=user)
    Task.objects.filter(user=user, completed=True).update(user=other_user)
    assert listed_totals(bearer_client(user), user.pk) == counted(user)
    assert listed_totals(bearer_client(other_user), other_user.pk) == counted(other_user)
    assert counted(other_user) == {"all": 2, "pending": 0, "completed": 2}


def test_deleting_a_user_deletes_their_tasks_and_counts(make_token):
    leaving, staying = UserFactory(), UserFactory()
    TaskFactory.create_batch(3, user=leaving)
    TaskFactory.create_batch(2, user=staying)
    leaving.delete()
    assert not TaskCount.objects.filter(user_id=leaving.pk).exists()
    assert listed_totals(bearer_client(staying), staying.pk)["all"] == 2


def test_filters_beyond_status_are_counted_exactly(user, make_token):
    client = bearer_client(user)
    for n in range(4):
        create_task(client, user.pk, title=f"Errand {n}", tags=["errands"] if n % 2 else [], priority="high")
    response = client.get(tasks_url(user.pk), {"tag": "errands", "status": "pending"})
    assert response["X-Total-Count"] == "2"
    response = client.get(tasks_url(user.pk), {"search": "errand 3", "status": "pending"})
    assert response["X-Total-Count"] == "1"
