"""The change feed, `GET /api/{user_id}/tasks/changes/` (docs/API.md §8, docs/SYNC.md): snapshot,
changes since a token, tombstones, every writer counting, token abuse, 410 after a purge, cost.

The concurrency proofs (two transactions committing in the other order, paging while another
thread writes) need PostgreSQL's row locks and concurrent writers: they are in
test_change_feed_concurrency.py."""

import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from core.tests.support import assert_problem, bearer_client
from tasks import services
from tasks.models import Reminder, Task, TaskCount, TaskTombstone
from tasks.tests.api_support import SLASH, create_task, get_task, tasks_url
from tasks.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def changes(client, user_id, since=None, limit=None, slash=True):
    params = {}
    if since is not None:
        params["since"] = since
    if limit is not None:
        params["limit"] = limit
    return client.get(tasks_url(user_id, "changes", slash=slash), params)


def sync(client, user_id, since=None, limit=None) -> tuple[list[dict], str, int]:
    """Follow `next` while `has_more`: (every change, the last `next`, pages read)."""
    seen, pages = [], 0
    while True:
        response = changes(client, user_id, since, limit)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"changes", "next", "has_more"}
        seen += body["changes"]
        since, pages = body["next"], pages + 1
        if not body["has_more"]:
            return seen, since, pages
        assert pages < 1000


def apply(state: dict[int, dict], seen: list[dict]) -> dict[int, dict]:
    """What a client holds after applying the changes."""
    for change in seen:
        if change["op"] == "upsert":
            state[change["task"]["id"]] = change["task"]
        else:
            assert set(change) == {"op", "id"}
            state.pop(change["id"], None)
    return state


def ids(seen: list[dict]) -> list[tuple[str, int]]:
    return [(c["op"], c["task"]["id"] if c["op"] == "upsert" else c["id"]) for c in seen]


def server_state(client, user_id) -> dict[int, dict]:
    return {task["id"]: task for task in client.get(tasks_url(user_id), {"limit": 500}).json()}


# --- Snapshot and changes ---------------------------------------------------------------------------
@SLASH
def test_snapshot_gives_every_task_once_in_pages_as_the_detail_route_shows_it(auth_client, user, slash):
    made = [create_task(auth_client, user.pk, title=f"t{n}", tags=["b", "A"]) for n in range(7)]
    TaskFactory()  # another user's: never in this feed

    seen, token, pages = sync(auth_client, user.pk, limit=3)

    assert pages == 3
    assert sorted(ids(seen)) == sorted(("upsert", task["id"]) for task in made)
    for change in seen:
        assert change["task"] == get_task(auth_client, user.pk, change["task"]["id"])
    assert token and isinstance(token, str)
    response = changes(auth_client, user.pk, slash=slash)
    assert response.status_code == 200 and len(response.json()["changes"]) == 7


def test_changes_since_a_token_are_each_task_once_in_its_latest_state(auth_client, user):
    kept = create_task(auth_client, user.pk, title="kept")
    edited = create_task(auth_client, user.pk, title="edited")
    gone = create_task(auth_client, user.pk, title="gone")
    _, token, _ = sync(auth_client, user.pk)

    auth_client.patch(tasks_url(user.pk, edited["id"]), {"title": "edited once"}, format="json")
    auth_client.patch(tasks_url(user.pk, edited["id"]), {"title": "edited twice"}, format="json")
    auth_client.patch(tasks_url(user.pk, edited["id"], "complete"))
    auth_client.delete(tasks_url(user.pk, gone["id"]))
    new = create_task(auth_client, user.pk, title="new")
    brief = create_task(auth_client, user.pk, title="made and deleted in between")
    auth_client.delete(tasks_url(user.pk, brief["id"]))

    seen, token2, _ = sync(auth_client, user.pk, since=token, limit=2)

    assert sorted(ids(seen)) == sorted(
        [("upsert", edited["id"]), ("delete", gone["id"]), ("upsert", new["id"]), ("delete", brief["id"])]
    )
    latest = next(c["task"] for c in seen if c["op"] == "upsert" and c["task"]["id"] == edited["id"])
    assert latest == get_task(auth_client, user.pk, edited["id"])
    assert latest["title"] == "edited twice" and latest["completed"] is True
    assert kept["id"] not in {i for _, i in ids(seen)}
    # And then nothing: the last `next` is where the client stands.
    assert sync(auth_client, user.pk, since=token2)[0] == []


def test_a_client_that_follows_the_feed_holds_what_the_server_holds(auth_client, user):
    state: dict[int, dict] = {}
    token = None
    for round_ in range(4):
        for n in range(5):
            create_task(auth_client, user.pk, title=f"r{round_} n{n}")
        tasks = list(server_state(auth_client, user.pk))
        auth_client.patch(tasks_url(user.pk, tasks[0], "complete"))
        auth_client.delete(tasks_url(user.pk, tasks[-1]))
        auth_client.post(tasks_url(user.pk, "bulk"), {"action": "complete", "ids": tasks[1:3]}, format="json")
        seen, token, _ = sync(auth_client, user.pk, since=token, limit=3)
        apply(state, seen)
        assert state == server_state(auth_client, user.pk)


def test_nothing_new_is_an_empty_page_and_the_same_position(auth_client, user):
    create_task(auth_client, user.pk)
    _, token, _ = sync(auth_client, user.pk)

    body = changes(auth_client, user.pk, since=token).json()

    assert body == {"changes": [], "next": token, "has_more": False}


def test_nothing_new_reads_one_count_row_and_no_task(auth_client, user):
    for n in range(3):
        create_task(auth_client, user.pk, title=f"t{n}")
    _, token, _ = sync(auth_client, user.pk)
    auth_client.get(tasks_url(user.pk, "changes"), {"since": token})  # the user is known now

    with CaptureQueriesContext(connection) as captured:
        response = auth_client.get(tasks_url(user.pk, "changes"), {"since": token})

    assert response.status_code == 200 and response.json()["changes"] == []
    statements = [query["sql"] for query in captured]
    assert len(statements) == 1, statements
    assert "tasks_taskcount" in statements[0]
    assert not re.search(r"\btasks_task\b|tasks_tasktombstone", statements[0]), statements[0]


def test_a_page_of_changes_is_two_queries_whatever_its_size(auth_client, user):
    for n in range(30):
        create_task(auth_client, user.pk, title=f"t{n}", tags=["x", f"y{n}"])
    auth_client.get(tasks_url(user.pk, "stats"))
    for limit in (1, 10, 30):
        with CaptureQueriesContext(connection) as captured:
            response = changes(auth_client, user.pk, limit=limit)
        assert len(response.json()["changes"]) == limit
        assert len(captured) == 2, [q["sql"] for q in captured]


def test_the_route_is_not_taken_for_a_task_id(auth_client, user):
    assert auth_client.get(tasks_url(user.pk, "changes", slash=False)).status_code == 200
    assert_problem(auth_client.post(tasks_url(user.pk, "changes")), 405, "method_not_allowed")


def test_the_route_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    path = next(p for p in schema["paths"] if p.endswith("/tasks/changes/"))
    operation = schema["paths"][path]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"since", "limit", "user_id"}
    assert {"200", "400", "410"} <= set(operation["responses"])


# --- Input and abuse -----------------------------------------------------------------------------
@pytest.mark.parametrize("limit", ["0", "1001", "-1", "x", "1.5", ""])
def test_a_limit_outside_1_to_1000_is_a_400_naming_it(auth_client, user, limit):
    assert_problem(changes(auth_client, user.pk, limit=limit), 400, "validation_error", "limit")


def test_limit_bounds_are_accepted(auth_client, user):
    for n in range(3):
        create_task(auth_client, user.pk, title=f"t{n}")
    assert len(changes(auth_client, user.pk, limit=1).json()["changes"]) == 1
    assert len(changes(auth_client, user.pk, limit=1000).json()["changes"]) == 3


@pytest.mark.parametrize(
    "since", ["", "garbage", "a.b", "W1s", "🙂", "x" * 300, "WzEsMiwzXQ.AAAA", "WzEsMiwzXQ"]
)
def test_a_malformed_token_is_a_400_keyed_since(auth_client, user, since):
    assert_problem(changes(auth_client, user.pk, since=since), 400, "validation_error", "since")


def test_a_tampered_token_is_a_400(auth_client, user):
    create_task(auth_client, user.pk)
    _, token, _ = sync(auth_client, user.pk)
    payload, mac = token.split(".")
    import base64

    forged = base64.urlsafe_b64encode(b"[0,0,0]").rstrip(b"=").decode()
    for bad in (f"{forged}.{mac}", f"{payload}.{mac[:-2]}AA", f"{payload}x.{mac}", token + "="):
        assert_problem(changes(auth_client, user.pk, since=bad), 400, "validation_error", "since")


def test_another_users_token_is_a_400_and_their_url_a_403(auth_client, user):
    other = UserFactory()
    other_client = bearer_client(other)
    TaskFactory(user=other, title="theirs")
    _, their_token, _ = sync(other_client, other.pk)

    assert_problem(changes(auth_client, user.pk, since=their_token), 400, "validation_error", "since")
    assert_problem(changes(auth_client, other.pk), 403, "user_mismatch")
    assert_problem(changes(auth_client, other.pk, since=their_token), 403, "user_mismatch")


def test_a_token_of_a_deleted_then_recreated_user_is_refused(user):
    client = bearer_client(user)
    TaskFactory(user=user)
    _, token, _ = sync(client, user.pk)
    user_id = user.pk
    user.delete()
    again = UserFactory(id=user_id)

    response = changes(bearer_client(again), user_id, since=token)

    assert_problem(response, 400, "validation_error", "since")


def test_no_token_needed_without_tasks(auth_client, user):
    body = changes(auth_client, user.pk).json()
    assert body["changes"] == [] and body["has_more"] is False
    task = create_task(auth_client, user.pk)
    assert ids(sync(auth_client, user.pk, since=body["next"])[0]) == [("upsert", task["id"])]


# --- Tombstones and 410 ----------------------------------------------------------------------------
def test_a_delete_leaves_a_tombstone_with_the_owners_next_change_number(auth_client, user):
    task = create_task(auth_client, user.pk)
    auth_client.delete(tasks_url(user.pk, task["id"]))
    tombstone = TaskTombstone.objects.get()
    assert (tombstone.user_id, tombstone.task_id) == (user.pk, task["id"])
    assert tombstone.change_seq == TaskCount.objects.get(user=user).change_seq


def test_a_snapshot_does_not_send_deletes_of_tasks_gone_before_it(auth_client, user):
    gone = create_task(auth_client, user.pk)
    auth_client.delete(tasks_url(user.pk, gone["id"]))
    kept = create_task(auth_client, user.pk)
    seen, token, _ = sync(auth_client, user.pk)
    assert ids(seen) == [("upsert", kept["id"])]
    auth_client.delete(tasks_url(user.pk, kept["id"]))
    assert ids(sync(auth_client, user.pk, since=token)[0]) == [("delete", kept["id"])]


def test_a_token_from_before_the_purge_is_410_and_a_fresh_sync_works(auth_client, user, settings):
    settings.SYNC_TOMBSTONE_DAYS = 30
    task = create_task(auth_client, user.pk)
    _, old_token, _ = sync(auth_client, user.pk)
    auth_client.delete(tasks_url(user.pk, task["id"]))
    kept = create_task(auth_client, user.pk)
    _, recent_token, _ = sync(auth_client, user.pk)
    TaskTombstone.objects.update(deleted_at=timezone.now() - timedelta(days=31))

    assert services.tombstones_purge() == 1

    assert not TaskTombstone.objects.exists()
    assert_problem(changes(auth_client, user.pk, since=old_token), 410, "sync_expired")
    assert changes(auth_client, user.pk, since=recent_token).json()["changes"] == []
    seen, token, _ = sync(auth_client, user.pk)
    assert ids(seen) == [("upsert", kept["id"])]
    assert changes(auth_client, user.pk, since=token).status_code == 200


def test_the_purge_keeps_recent_tombstones_and_other_users_tokens(auth_client, user):
    other = UserFactory()
    other_client = bearer_client(other)
    mine, theirs = create_task(auth_client, user.pk), TaskFactory(user=other)
    _, my_token, _ = sync(auth_client, user.pk)
    _, their_token, _ = sync(other_client, other.pk)
    auth_client.delete(tasks_url(user.pk, mine["id"]))
    their_id = theirs.pk
    theirs.delete()
    TaskTombstone.objects.filter(user=user).update(deleted_at=timezone.now() - timedelta(days=40))

    assert services.tombstones_purge(older_than=timedelta(days=30)) == 1

    assert_problem(changes(auth_client, user.pk, since=my_token), 410, "sync_expired")
    assert ids(sync(other_client, other.pk, since=their_token)[0]) == [("delete", their_id)]


def test_the_celery_task_purges(auth_client, user):
    from tasks.tasks import purge_tombstones

    task = create_task(auth_client, user.pk)
    auth_client.delete(tasks_url(user.pk, task["id"]))
    TaskTombstone.objects.update(deleted_at=timezone.now() - timedelta(days=365))
    assert purge_tombstones.run() == 1
    assert not TaskTombstone.objects.exists()


def test_deleting_a_user_leaves_no_tombstone_or_event(user):
    TaskFactory(user=user)
    services.task_events_enable(user_id=user.pk, enabled=True)
    TaskFactory(user=user)
    user.delete()
    from tasks.models import TaskEvent

    assert not TaskTombstone.objects.exists() and not TaskEvent.objects.exists()


# --- Every writer counts ---------------------------------------------------------------------------
@pytest.fixture
def synced(auth_client, user):
    """Two tasks and a token after them; `check(expected)` syncs and compares."""
    a = create_task(auth_client, user.pk, title="a")
    b = create_task(auth_client, user.pk, title="b")
    _, token, _ = sync(auth_client, user.pk)

    def check(expected: set[tuple[str, int]]):
        seen, _, _ = sync(auth_client, user.pk, since=token)
        assert sorted(ids(seen)) == sorted(expected)
        assert len(seen) == len(expected)  # each once
        return seen

    return {"a": a["id"], "b": b["id"], "check": check, "token": token}


def test_api_update_put_toggle_and_set_count(auth_client, user, synced):
    auth_client.put(tasks_url(user.pk, synced["a"]), {"title": "put"}, format="json")
    auth_client.patch(tasks_url(user.pk, synced["b"], "complete"), {"completed": True}, format="json")
    synced["check"]({("upsert", synced["a"]), ("upsert", synced["b"])})


def test_a_write_that_changes_nothing_is_not_a_change(auth_client, user, synced):
    auth_client.patch(tasks_url(user.pk, synced["a"]), {"title": "a"}, format="json")
    auth_client.patch(tasks_url(user.pk, synced["b"], "complete"), {"completed": False}, format="json")
    synced["check"](set())


def test_tag_changes_count(auth_client, user, synced):
    auth_client.patch(tasks_url(user.pk, synced["a"]), {"tags": ["new"]}, format="json")
    seen = synced["check"]({("upsert", synced["a"])})
    assert seen[0]["task"]["tags"] == ["new"]


@pytest.mark.parametrize("action", ["complete", "delete"])
def test_bulk_counts(auth_client, user, synced, action):
    auth_client.post(
        tasks_url(user.pk, "bulk"), {"action": action, "ids": [synced["a"], synced["b"]]}, format="json"
    )
    op = "upsert" if action == "complete" else "delete"
    synced["check"]({(op, synced["a"]), (op, synced["b"])})


def test_bulk_delete_completed_counts(auth_client, user, synced):
    auth_client.patch(tasks_url(user.pk, synced["a"], "complete"))
    auth_client.post(tasks_url(user.pk, "bulk"), {"action": "delete_completed"}, format="json")
    synced["check"]({("delete", synced["a"])})


def test_admin_save_delete_and_actions_count(admin_client, user, synced):
    response = admin_client.post(
        f"/admin/tasks/task/{synced['a']}/change/",
        {
            "title": "from admin",
            "description": "",
            "priority": 0,
            "due_date_0": "",
            "due_date_1": "",
            "tag_names": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert admin_client.post(f"/admin/tasks/task/{synced['b']}/delete/", {"post": "yes"}).status_code == 302
    synced["check"]({("upsert", synced["a"]), ("delete", synced["b"])})


def test_admin_actions_count(admin_client, user, synced):
    admin_client.post("/admin/tasks/task/", {"action": "complete_tasks", "_selected_action": [synced["a"]]})
    admin_client.post(
        "/admin/tasks/task/",
        {"action": "delete_tasks", "_selected_action": [synced["b"]], "confirm": "yes"},
    )
    synced["check"]({("upsert", synced["a"]), ("delete", synced["b"])})


def test_admin_add_counts(admin_client, user, synced):
    admin_client.post(
        "/admin/tasks/task/add/", {"user": user.pk, "title": "added", "priority": 0, "tag_names": ""}
    )
    added = Task.objects.get(title="added")
    synced["check"]({("upsert", added.pk)})


def test_orm_and_raw_sql_writes_count(user, synced):
    task = Task.objects.get(pk=synced["a"])
    task.title = "orm save"
    task.save()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tasks_task SET description = 'raw' WHERE id = %s", [synced["b"]])
    made = Task.objects.create(user=user, title="orm create")
    seen = synced["check"]({("upsert", synced["a"]), ("upsert", synced["b"]), ("upsert", made.pk)})
    assert {c["task"]["id"]: c["task"]["description"] for c in seen}[synced["b"]] == "raw"


def test_a_stale_orm_save_still_counts(user, synced):
    stale = Task.objects.get(pk=synced["a"])
    Task.objects.filter(pk=synced["a"]).update(description="moved on")
    stale.title = "saved from a stale instance"
    stale.save()
    seen = synced["check"]({("upsert", synced["a"])})
    assert seen[0]["task"]["title"] == "saved from a stale instance"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_leaves_nothing(auth_client, user):
    task = create_task(auth_client, user.pk)
    _, token, _ = sync(auth_client, user.pk)
    services.task_events_enable(user_id=user.pk, enabled=True)
    count_before = TaskCount.objects.values().get(user=user)
    from tasks.models import TaskEvent

    events_before = TaskEvent.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        Task.objects.filter(pk=task["id"]).update(title="rolled back")
        Task.objects.create(user=user, title="never")
        Task.objects.filter(pk=task["id"]).delete()
        raise RuntimeError

    assert changes(auth_client, user.pk, since=token).json()["changes"] == []
    assert TaskCount.objects.values().get(user=user) == count_before
    assert TaskEvent.objects.count() == events_before and not TaskTombstone.objects.exists()


def test_a_rolled_back_savepoint_leaves_nothing_and_the_transaction_goes_on(user, synced):
    with transaction.atomic():
        Task.objects.filter(pk=synced["a"]).update(title="kept")
        try:
            with transaction.atomic():
                Task.objects.filter(pk=synced["b"]).update(title="undone")
                raise RuntimeError
        except RuntimeError:
            pass
        Task.objects.filter(pk=synced["a"]).update(description="kept too")
    synced["check"]({("upsert", synced["a"])})


def test_commands_that_write_tasks_count(user, synced, tmp_path):
    from tasks.tests.command_support import run

    other = UserFactory()
    path = tmp_path / "in.jsonl"
    stamp = "2026-01-01T00:00:00Z"
    path.write_text(
        f'{{"title": "imported", "user_id": "{user.pk}", "created_at": "{stamp}", "updated_at": "{stamp}"}}\n'
    )
    run("import_tasks", str(path))
    imported = Task.objects.get(title="imported")
    Task.objects.filter(pk=synced["a"]).update(title="  padded  ")
    # normalize_data trims it back (a write of its own, after the raw one)
    run("normalize_data")
    Task.objects.filter(pk=synced["b"]).update(
        completed=True, completed_at=timezone.now() - timedelta(days=400)
    )
    run("purge_tasks", "--completed-before", (timezone.now() - timedelta(days=300)).date().isoformat())
    synced["check"]({("upsert", imported.pk), ("upsert", synced["a"]), ("delete", synced["b"])})
    assert Task.objects.get(pk=synced["a"]).title == "padded"
    assert other  # reassign below


def test_reassign_tasks_moves_them_out_of_one_feed_into_the_other(user, synced):
    from tasks.tests.command_support import run

    other = UserFactory()
    other_client = bearer_client(other)
    _, their_token, _ = sync(other_client, other.pk)

    run("reassign_tasks", "--from-user", user.pk, "--to-user", other.pk)

    synced["check"]({("delete", synced["a"]), ("delete", synced["b"])})
    seen = sync(other_client, other.pk, since=their_token)[0]
    assert sorted(ids(seen)) == sorted([("upsert", synced["a"]), ("upsert", synced["b"])])
    assert all(c["task"]["user_id"] == other.pk for c in seen)


def test_seed_demo_tasks_are_in_their_users_feeds():
    from tasks.tests.command_support import run

    out, _ = run("seed_demo", users=2, tasks_per_user=7, seed=3, print_user_ids=True)
    for user_id in out.split():
        from accounts.models import User

        client = bearer_client(User.objects.get(pk=user_id))
        seen, _, _ = sync(client, user_id, limit=5)
        assert len(seen) == 7 == len({c["task"]["id"] for c in seen})


@pytest.mark.django_db(transaction=True)  # each write its own transaction, as the worker's are
def test_reminder_changes_move_the_task_and_the_list_revision(auth_client, user, synced):
    task = Task.objects.get(pk=synced["a"])
    revision = TaskCount.objects.get(user=user).revision
    reminder = Reminder.objects.create(task=task, user=user, position=0, at=timezone.now())
    synced["check"]({("upsert", synced["a"])})
    assert TaskCount.objects.get(user=user).revision > revision

    _, token, _ = sync(auth_client, user.pk)
    Reminder.objects.filter(pk=reminder.pk).update(claimed_until=timezone.now())  # a claim: not shown
    assert changes(auth_client, user.pk, since=token).json()["changes"] == []
    Reminder.objects.filter(pk=reminder.pk).update(state="sent", sent_at=timezone.now())  # the worker
    assert ids(sync(auth_client, user.pk, since=token)[0]) == [("upsert", synced["a"])]
    _, token, _ = sync(auth_client, user.pk)
    reminder.delete()
    assert ids(sync(auth_client, user.pk, since=token)[0]) == [("upsert", synced["a"])]
