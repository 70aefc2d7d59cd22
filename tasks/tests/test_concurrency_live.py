"""Concurrent writers through a real server: gunicorn with two worker processes of four threads, on
a scratch database of the kind this run uses (SQLite file, or a soak_ database on the PostgreSQL
server), many clients each on its own connection, released together.

test_api_concurrency.py races threads inside one process through the test client (PostgreSQL only);
here the race crosses processes and connections, so it runs on SQLite too.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from reliability.live import KeepAliveClient, bearer_for, scratch_database
from todo_project.tests.deploy_support import gunicorn, production_env

pytestmark = pytest.mark.slow

USER = "racer-7Hq2ZkLm3Vx9"
TIMEOUT = 60  # seconds for one whole race; each request has its own 15 s timeout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("concurrency-live")
    with scratch_database(settings.DATABASES["default"], directory) as url:
        env = production_env(
            DATABASE_URL=url, API_RATE_LIMIT_USER="off", GUNICORN_WORKERS="2", GUNICORN_THREADS="4"
        )
        with gunicorn(env, directory, name="racers") as server:
            yield server


@pytest.fixture(scope="module")
def auth(server):
    return bearer_for(server.env["BETTER_AUTH_SECRET"], USER)


def url(*parts: object) -> str:
    return "/".join([f"/api/{USER}/tasks", *(str(part) for part in parts)]) + "/"


def race(server, auth, requests: list[tuple]) -> list:
    """Send each (method, path, body, headers) from its own thread and connection, all at once."""
    barrier = threading.Barrier(len(requests))

    def send(request):
        method, path, body, headers = request
        client = KeepAliveClient(server.port)
        try:
            client.request("GET", "/healthz")  # connect first, so the race is the requests, not connects
            barrier.wait(timeout=30)
            return client.request(method, path, body, {**auth, **headers})
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        answers = list(pool.map(send, requests, timeout=TIMEOUT))
    assert all(answer.status for answer in answers), [answer.error for answer in answers]
    return answers


def once(server, method: str, path: str, body=None, headers=None):
    client = KeepAliveClient(server.port)
    try:
        return client.request(method, path, body, headers)
    finally:
        client.close()


def create(server, auth, title: str) -> dict:
    answer = once(server, "POST", url(), {"title": title}, auth)
    assert answer.status == 201, answer.body
    return answer.json()


def read(server, auth, task_id: int):
    return once(server, "GET", url(task_id), headers=auth)


@pytest.mark.parametrize("writers", [2, 8])
def test_writers_racing_with_one_etag_exactly_one_wins_every_round(server, auth, writers):
    task = create(server, auth, "Contended")
    for round_number in range(5):
        current = read(server, auth, task["id"])
        etag, version = current.headers["etag"], current.json()["version"]

        answers = race(
            server,
            auth,
            [
                ("PATCH", url(task["id"]), {"title": f"round {round_number} writer {n}"}, {"If-Match": etag})
                for n in range(writers)
            ],
        )

        statuses = Counter(answer.status for answer in answers)
        assert statuses == {200: 1, 412: writers - 1}, statuses
        winner = next(answer.json() for answer in answers if answer.status == 200)
        after = read(server, auth, task["id"]).json()
        assert after["title"] == winner["title"]
        assert after["version"] == winner["version"] == version + 1
        for loser in (answer for answer in answers if answer.status == 412):
            assert loser.json()["code"] == "precondition_failed"


def test_toggles_from_many_threads_leave_version_one_more_than_the_successful_writes(server, auth):
    task = create(server, auth, "Toggled")
    threads, rounds = 8, 6
    answers = []
    for _ in range(rounds):
        answers += race(server, auth, [("PATCH", url(task["id"], "complete"), None, {})] * threads)

    successes = [answer for answer in answers if answer.status == 200]
    assert len(successes) == threads * rounds, Counter(answer.status for answer in answers)
    after = read(server, auth, task["id"]).json()
    assert after["version"] == 1 + len(successes)
    assert after["completed"] is (len(successes) % 2 == 1)
    # Each toggle was applied on top of the one before: every version from 2 up was handed out once.
    assert sorted(answer.json()["version"] for answer in successes) == list(range(2, 2 + len(successes)))


def test_racing_deletes_one_204_and_the_rest_404(server, auth):
    task = create(server, auth, "Deleted by many")
    answers = race(server, auth, [("DELETE", url(task["id"]), None, {})] * 6)
    assert Counter(answer.status for answer in answers) == {204: 1, 404: 5}
    assert read(server, auth, task["id"]).status == 404


def test_racing_creates_with_one_idempotency_key_make_one_task(server, auth):
    body = {"title": "Exactly once", "tags": ["race"]}
    answers = race(server, auth, [("POST", url(), body, {"Idempotency-Key": "race-key-1"})] * 8)

    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    assert len({answer.json()["id"] for answer in answers if answer.status == 201}) == 1
    for busy in (answer for answer in answers if answer.status == 409):
        assert busy.json()["code"] == "idempotency_in_progress"
        assert int(busy.headers["retry-after"]) >= 1
    listed = once(server, "GET", url() + "?search=Exactly+once", headers=auth)
    assert len(listed.json()) == 1
