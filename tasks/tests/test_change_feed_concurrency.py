"""Exactly once, under concurrency (docs/SYNC.md): on PostgreSQL, with real transactions in threads.

PostgreSQL only: SQLite lets one writer in at a time (the whole database is the lock), so two
transactions of one user can neither interleave nor commit in the other order there.
"""

import random
import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from core.tests.support import bearer_client
from tasks.models import Task
from tasks.tests.api_support import postgres_only
from tasks.tests.factories import TaskFactory
from tasks.tests.test_change_feed import apply, ids, server_state, sync

pytestmark = pytest.mark.django_db(transaction=True)
DEADLINE = 20.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class SteppedTransaction(threading.Thread):
    """One transaction in its own thread and connection, run a step at a time on demand, then
    committed on demand; `pid` is its backend, to see whether it waits for a lock."""

    def __init__(self, *steps: Callable[[], None]):
        super().__init__(daemon=True)
        self.steps = steps
        self.go = [threading.Event() for _ in range(len(steps) + 1)]
        self.done = [threading.Event() for _ in range(len(steps) + 1)]
        self.pid = None
        self.error = None
        self.started_transaction = threading.Event()

    def run(self):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid(), txid_current()")  # the transaction starts now
                    self.pid = cursor.fetchone()[0]
                self.started_transaction.set()
                for n, step in enumerate(self.steps):
                    self.go[n].wait()
                    step()
                    self.done[n].set()
                self.go[-1].wait()
            self.done[-1].set()
        except BaseException as error:  # reported by the test
            self.error = error
            for event in self.done:
                event.set()
        finally:
            connections.close_all()

    def begin(self):
        self.start()
        wait_for(self.started_transaction.is_set, "the transaction to start")
        return self

    def step(self, n: int, wait: bool = True):
        self.go[n].set()
        if wait:
            self.wait_step(n)

    def wait_step(self, n: int):
        wait_for(self.done[n].is_set, f"step {n}")
        assert self.error is None, self.error

    def commit(self):
        self.go[-1].set()
        wait_for(self.done[-1].is_set, "the commit")
        assert self.error is None, self.error
        self.join(DEADLINE)


def waiting_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


def retitle(task_id: int, title: str) -> Callable[[], None]:
    return lambda: Task.objects.filter(pk=task_id).update(title=title)


@postgres_only
@pytest.mark.parametrize("same_task", [False, True], ids=["different-tasks", "same-task"])
def test_the_transaction_that_wrote_first_and_commits_last_is_not_skipped(user, same_task):
    client = bearer_client(user)
    a, b = TaskFactory(user=user, title="a"), TaskFactory(user=user, title="b")
    second = a if same_task else b
    _, token, _ = sync(client, user.pk)

    first = SteppedTransaction(retitle(a.pk, "first")).begin()
    later = SteppedTransaction(retitle(second.pk, "second")).begin()
    first.step(0)  # writes first: with a global sequence taken now, it would get the smaller number
    later.step(0, wait=False)
    # The later writer waits for the first one's lock on the user's counter (or on the task itself).
    wait_for(lambda: waiting_for_a_lock(later.pid), "the second writer to wait for the first")
    between, token, _ = sync(client, user.pk, since=token)
    assert between == []  # nothing committed yet

    first.commit()
    later.wait_step(0)  # now it has its number: after the first's
    middle, token, _ = sync(client, user.pk, since=token)
    assert ids(middle) == [("upsert", a.pk)]
    assert middle[0]["task"]["title"] == "first"

    later.commit()
    after, token, _ = sync(client, user.pk, since=token)
    assert ids(after) == [("upsert", second.pk)]
    assert after[0]["task"]["title"] == "second"
    assert sync(client, user.pk, since=token)[0] == []


@postgres_only
def test_a_transaction_that_started_first_but_commits_last_is_not_skipped(user):
    """Begun first, written and committed after another: what a snapshot-ordered (xid or
    start-time) sequence would skip once a client has read past the other's number."""
    client = bearer_client(user)
    a, b = TaskFactory(user=user, title="a"), TaskFactory(user=user, title="b")
    _, token, _ = sync(client, user.pk)

    older = SteppedTransaction(retitle(a.pk, "older, committed last")).begin()
    younger = SteppedTransaction(retitle(b.pk, "younger, committed first")).begin()
    younger.step(0)
    younger.commit()
    first, token, _ = sync(client, user.pk, since=token)
    older.step(0)
    older.commit()
    second, token, _ = sync(client, user.pk, since=token)

    assert ids(first) == [("upsert", b.pk)]
    assert ids(second) == [("upsert", a.pk)]
    assert first[0]["task"]["title"] == "younger, committed first"
    assert second[0]["task"]["title"] == "older, committed last"


@postgres_only
def test_a_client_paging_while_others_write_sees_every_change_exactly_once(user):
    """Writers in threads create, edit and delete the user's tasks while a client follows `next`
    page by page, with small pages; after the writers stop and a last sync, the client holds what
    the server holds, and it never got the same (task, version) twice."""
    client = bearer_client(user)
    for n in range(40):
        TaskFactory(user=user, title=f"seed {n}")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(seed: int):
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                ids_now = list(Task.objects.filter(user=user).values_list("pk", flat=True))
                kind = rng.random()
                with transaction.atomic():
                    if kind < 0.3 or not ids_now:
                        Task.objects.create(user=user, title=f"w{seed} {rng.random():.6f}")
                    elif kind < 0.8:
                        task_id = rng.choice(ids_now)
                        Task.objects.filter(pk=task_id).update(title=f"edit {rng.random():.6f}")
                    else:
                        Task.objects.filter(pk=rng.choice(ids_now)).delete()
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(2)]
    for thread in threads:
        thread.start()
    state: dict[int, dict] = {}
    received: list[tuple[int, int, str]] = []
    token = None
    try:
        for _ in range(15):
            seen, token, _ = sync(client, user.pk, since=token, limit=7)
            received += [
                (c["task"]["id"], c["task"]["version"], c["task"]["title"])
                for c in seen
                if c["op"] == "upsert"
            ]
            apply(state, seen)
    finally:
        stop.set()
        for thread in threads:
            thread.join(DEADLINE)
    assert not errors, errors
    seen, token, _ = sync(client, user.pk, since=token, limit=7)
    received += [
        (c["task"]["id"], c["task"]["version"], c["task"]["title"]) for c in seen if c["op"] == "upsert"
    ]
    apply(state, seen)

    assert state == server_state(client, user.pk)
    assert len(received) == len(set(received)), "a change was sent twice"
    assert sync(client, user.pk, since=token)[0] == []
