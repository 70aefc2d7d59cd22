"""Issue 12, point 1: a body over 1 MiB reaches a real HTTP client through gunicorn as the 413
problem+json (docs/API.md §5), never as a reset connection, and keep-alive survives it."""

import http.client
import json
import socket

import pytest

from todo_project.tests.deploy_support import bearer, gunicorn, migrated_sqlite_url, production_env

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
USER = "bigBodyUser"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("body-limit")
    env = production_env(DATABASE_URL=migrated_sqlite_url(directory), API_RATE_LIMIT_USER="off")
    with gunicorn(env, directory) as server:
        yield server


@pytest.fixture(scope="module")
def task_path(server):
    headers = bearer(server.env["BETTER_AUTH_SECRET"], USER)
    created = server.request("POST", f"/api/{USER}/tasks/", body={"title": "target"}, headers=headers)
    assert created.status == 201, created.body
    return f"/api/{USER}/tasks/{created.json()['id']}/"


def oversized(size: int) -> bytes:
    """Valid JSON of exactly `size` bytes: only its size is wrong."""
    head, tail = b'{"title": "big", "description": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def assert_413(response: http.client.HTTPResponse) -> None:
    body = response.read()
    assert response.status == 413, body[:300]
    assert response.getheader("Content-Type") == "application/problem+json"
    problem = json.loads(body)
    assert problem["code"] == "payload_too_large"
    assert problem["status"] == 413
    assert problem["request_id"] == response.getheader("X-Request-ID")


def follow_up_works(connection: http.client.HTTPConnection, closed: bool, server) -> None:
    """The next request on the same connection is served; or, when the server said it would close
    the connection, it did so cleanly and a new connection is served."""
    if closed:
        connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    assert response.status == 200
    response.read()
    connection.close()


@pytest.mark.parametrize("size", [MIB + 1, 2 * MIB], ids=["1MiB+1", "2MiB"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_oversized_body_is_a_413_response_and_keep_alive_survives(server, task_path, method, size):
    path = f"/api/{USER}/tasks/" if method == "POST" else task_path
    headers = {"Content-Type": "application/json", **bearer(server.env["BETTER_AUTH_SECRET"], USER)}
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request(method, path, body=oversized(size), headers=headers)
    response = connection.getresponse()
    assert_413(response)
    closed = (response.getheader("Connection") or "").lower() == "close"
    follow_up_works(connection, closed, server)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_oversized_chunked_body_is_a_413_response(server, task_path, method):
    path = f"/api/{USER}/tasks/" if method == "POST" else task_path
    headers = {
        "Content-Type": "application/json",
        **bearer(server.env["BETTER_AUTH_SECRET"], USER),
    }
    body = oversized(2 * MIB)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    chunks = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
    connection.request(method, path, body=chunks, headers=headers, encode_chunked=True)
    response = connection.getresponse()
    assert_413(response)
    closed = (response.getheader("Connection") or "").lower() == "close"
    follow_up_works(connection, closed, server)


def test_a_chunked_body_within_the_limit_is_read_not_ignored(server):
    headers = {
        "Content-Type": "application/json",
        **bearer(server.env["BETTER_AUTH_SECRET"], USER),
    }
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    chunks = iter([b'{"title": "sent', b' in chunks"}'])
    connection.request("POST", f"/api/{USER}/tasks/", body=chunks, headers=headers, encode_chunked=True)
    response = connection.getresponse()
    body = json.loads(response.read())
    assert response.status == 201, body
    assert body["title"] == "sent in chunks"
    connection.close()


def test_a_body_far_beyond_the_limit_is_answered_and_the_connection_closed(server):
    """A client announcing 1 GiB gets the 413 at once, and the server closes the connection rather
    than read a gigabyte; the client, still sending, is not reset before it can read the answer."""
    headers = bearer(server.env["BETTER_AUTH_SECRET"], USER)
    head = (
        f"POST /api/{USER}/tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {headers['Authorization']}\r\nContent-Length: {1024 * MIB}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
        client.sendall(head + b'{"title": "' + b"x" * (256 * 1024))
        answer = b""
        while b"\r\n\r\n" not in answer or b"payload_too_large" not in answer:
            chunk = client.recv(65536)
            assert chunk, f"closed without a complete answer: {answer[:300]!r}"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in answer.lower()
