"""Production logs: JSON lines with the request fields, and never a token, password or secret."""

import io
import json
import logging

import pytest

from core.request_log import JSONFormatter, RequestContextFilter
from todo_project.tests.deploy_support import gunicorn, migrated_sqlite_url, production_env


@pytest.fixture
def log_lines():
    """What the production console handler writes (JSON formatter, request filter), line by line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def read(logger: str | None = None) -> list[dict]:
        entries = [json.loads(line) for line in stream.getvalue().splitlines()]
        return [entry for entry in entries if logger is None or entry["logger"] == logger]

    yield read
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_each_request_is_one_json_line_with_who_what_and_how_long(auth_client, user, log_lines):
    response = auth_client.get("/api/me/", HTTP_X_REQUEST_ID="trace-42")
    assert response.status_code == 200
    [entry] = log_lines("todo_project.request")
    assert entry["level"] == "INFO"
    assert entry["logger"] == "todo_project.request"
    assert entry["request_id"] == "trace-42"
    assert entry["user_id"] == user.pk
    assert entry["method"] == "GET"
    assert entry["route"] == "/api/me/"
    assert entry["status"] == 200
    assert isinstance(entry["duration_ms"], float)
    assert 0 <= entry["duration_ms"] < 60_000
    assert entry["time"].endswith("Z")


def test_the_route_is_the_url_pattern_not_the_path(auth_client, user, log_lines):
    auth_client.get(f"/api/{user.pk}/tasks/12345/?search=secret-words")
    [entry] = log_lines("todo_project.request")
    assert entry["route"] == "/api/<user_id>/tasks/<pk>/"
    assert entry["status"] == 404
    assert "secret-words" not in json.dumps(entry)


def test_anonymous_requests_log_no_user(api_client, log_lines):
    api_client.get("/api/me/")
    [entry] = log_lines("todo_project.request")
    assert entry["user_id"] is None
    assert entry["status"] == 401


def test_a_log_line_written_during_a_request_carries_its_request_id(settings, auth_client, log_lines):
    # The unreachable-cache warning comes from deep inside the request; the id ties it to the request.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    auth_client.get("/api/me/", HTTP_X_REQUEST_ID="inner-7")
    [entry] = log_lines("core.throttling")
    assert entry["request_id"] == "inner-7"
    assert entry["level"] == "WARNING"
    assert "exception" in entry  # the cause, as one JSON string


def test_logging_a_request_never_loads_the_session_user(client, log_lines):
    # No database access is allowed in this test: loading the session's user would fail it.
    client.cookies["sessionid"] = "x" * 32
    assert client.get("/no-such-page").status_code == 404
    [entry] = log_lines("todo_project.request")
    assert entry["user_id"] is None
    assert entry["route"] is None


def test_successful_probes_are_not_logged_but_failing_ones_are(client, log_lines):
    assert client.get("/healthz").status_code == 200
    assert log_lines("todo_project.request") == []
    assert client.post("/healthz").status_code == 405
    [entry] = log_lines("todo_project.request")
    assert entry["route"] == "/healthz/"
    assert entry["status"] == 405


def test_log_lines_outside_a_request_have_no_request_id(log_lines):
    logging.getLogger("todo_project.anything").warning("between requests")
    [entry] = log_lines("todo_project.anything")
    assert "request_id" not in entry
    assert entry["message"] == "between requests"


@pytest.mark.slow
def test_a_session_with_tokens_and_passwords_leaves_none_of_them_in_the_logs(tmp_path):
    env = production_env(DATABASE_URL=migrated_sqlite_url(tmp_path), DJANGO_LOG_LEVEL="DEBUG")
    password = "correct horse battery staple 42"
    wrong_password = "wrong horse battery staple 43"
    with gunicorn(env, tmp_path) as server:
        account = {"email": "logged@example.com", "password": password, "name": "Logged"}
        registered = server.request("POST", "/api/auth/register/", body=account).json()
        login = server.request(
            "POST", "/api/auth/token/", body={"email": account["email"], "password": password}
        )
        tokens = login.json()
        refreshed = server.request(
            "POST", "/api/auth/token/refresh/", body={"refresh": tokens["refresh"]}
        ).json()
        bearer = {"Authorization": f"Bearer {tokens['access']}"}
        user_id = tokens["user"]["id"]
        assert server.request("GET", "/api/me/", headers=bearer).status == 200
        assert server.request("GET", f"/api/{user_id}/tasks/", headers=bearer).status == 200
        # Mistakes clients make: a wrong password, a token in the query string or the path, a
        # forged token signed with the secret of the wrong service.
        wrong = server.request(
            "POST", "/api/auth/token/", body={"email": account["email"], "password": wrong_password}
        )
        assert wrong.status == 401
        server.request("GET", f"/api/me/?access_token={tokens['access']}")
        server.request("GET", f"/api/{tokens['access']}/tasks/", headers=bearer)
        server.request("GET", "/api/me/", headers={"Authorization": f"Bearer {tokens['access']}x"})
        server.request("GET", "/api/me/", headers={"Authorization": f"Bearer {env['DJANGO_SECRET_KEY']}"})

    log = server.log()
    secrets_used = {
        "password": password,
        "wrong password": wrong_password,
        "access token": tokens["access"],
        "access token signature": tokens["access"].rsplit(".", 1)[1],
        "refresh token": tokens["refresh"],
        "refresh token signature": tokens["refresh"].rsplit(".", 1)[1],
        "registration token": registered["access"],
        "refreshed token": refreshed["access"],
        "BETTER_AUTH_SECRET": env["BETTER_AUTH_SECRET"],
        "DJANGO_SECRET_KEY": env["DJANGO_SECRET_KEY"],
    }
    leaked = [name for name, value in secrets_used.items() if value in log]
    assert leaked == []

    # And the log is useful: JSON on every line, one line per request with the user on it.
    lines = log.splitlines()
    entries = [json.loads(line) for line in lines]
    requests = [
        entry
        for entry in entries
        if entry["logger"] == "todo_project.request" and entry["route"] != "/healthz/"
    ]
    assert len(requests) == 10
    assert {
        entry["user_id"] for entry in requests if entry["route"] == "/api/me/" and entry["status"] == 200
    } == {user_id}
    assert all(len(entry["request_id"]) >= 16 for entry in requests)
