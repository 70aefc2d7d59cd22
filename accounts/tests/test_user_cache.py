"""The authenticated user is cached per process for at most AUTH_USER_CACHE_SECONDS (issue 11):
known users cost no query, yet deactivation takes effect on every process within that bound, at
once where Redis is configured, and just-in-time provisioning and profile sync keep working."""

import time
import uuid

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.services import user_set_active
from core.tests.support import assert_problem
from tasks.tests.api_support import tasks_url
from todo_project.tests.deploy_support import (
    bearer,
    gunicorns,
    manage,
    migrated_sqlite_url,
    production_env,
    wait_until,
)

pytestmark = pytest.mark.django_db
REDIS_URL = "redis://127.0.0.1:6379/0"


def statements(client, url, **headers) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    return response.status_code, len(captured)


def test_a_known_user_costs_no_query_after_the_first_request(auth_client, user):
    first = statements(auth_client, tasks_url(user.pk, "stats"))
    second = statements(auth_client, tasks_url(user.pk, "stats"))

    assert first == (200, 2)  # the user, then the stats
    assert second == (200, 1)


def test_deactivation_is_refused_at_once_in_this_process(auth_client, user):
    assert auth_client.get(tasks_url(user.pk)).status_code == 200  # cached now

    user_set_active(user=user, active=False)

    assert_problem(auth_client.get(tasks_url(user.pk)), 403, "account_disabled")


def test_a_change_the_cache_cannot_hear_of_still_takes_effect_within_the_bound(auth_client, user, settings):
    """A bulk UPDATE sends no signal; the bound alone makes it take effect."""
    settings.AUTH_USER_CACHE_SECONDS = 1
    assert auth_client.get(tasks_url(user.pk)).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    changed = time.monotonic()

    wait_until(lambda: auth_client.get(tasks_url(user.pk)).status_code == 403, timeout=10, message="403")

    assert time.monotonic() - changed < 1 + 2  # the bound, plus a busy machine's slack


def test_a_token_with_a_new_email_and_name_updates_the_cached_user(api_client, user, make_token):
    old = make_token(user.pk, email=user.email, name=user.name)
    new = make_token(user.pk, email="renamed@example.com", name="Renamed")
    assert api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {old}").status_code == 200

    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {new}")

    assert response.json()["email"] == "renamed@example.com"
    assert response.json()["name"] == "Renamed"
    user.refresh_from_db()
    assert (user.email, user.name) == ("renamed@example.com", "Renamed")


def test_an_unknown_sub_is_still_provisioned_on_first_sight(api_client, make_token):
    sub = f"jit-{uuid.uuid4().hex}"
    token = make_token(sub, email="new@example.com", name="New")

    response = api_client.get(tasks_url(sub), HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert User.objects.get(pk=sub).email == "new@example.com"


def test_a_cache_of_zero_seconds_reads_the_user_every_time(auth_client, user, settings):
    settings.AUTH_USER_CACHE_SECONDS = 0
    statements(auth_client, tasks_url(user.pk, "stats"))

    assert statements(auth_client, tasks_url(user.pk, "stats")) == (200, 2)


# --- Across processes: two gunicorns sharing one database ---------------------------------------------
def _redis_available() -> bool:
    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def _all_refused(servers, path, token) -> bool:
    return all(
        server.request("GET", path, headers=token).status == 403 for server in servers for _ in range(4)
    )


def _deactivate_in_another_process(env, user_id) -> float:
    result = manage("deactivate_user", user_id, env=env)
    assert result.returncode == 0, result.stderr
    return time.monotonic()


@pytest.mark.slow
def test_with_redis_a_deactivation_reaches_every_process_at_once(tmp_path):
    if not _redis_available():
        pytest.skip("Redis is not running at 127.0.0.1:6379 (.ci/run starts it)")
    env = production_env(
        DATABASE_URL=migrated_sqlite_url(tmp_path),
        REDIS_URL=REDIS_URL,
        CACHE_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
        API_RATE_LIMIT_USER="off",
        AUTH_USER_CACHE_SECONDS="300",  # only the Redis message can explain a quick refusal
    )
    token = bearer(env["BETTER_AUTH_SECRET"], "cached-user")
    path = "/api/cached-user/tasks/"
    with gunicorns([env, env], tmp_path) as servers:
        for server in servers:
            wait_until(
                lambda server=server: server.request("GET", path, headers=token).status == 200, timeout=30
            )
            assert {server.request("GET", path, headers=token).status for _ in range(8)} == {200}

        deactivated = _deactivate_in_another_process(env, "cached-user")

        wait_until(lambda: _all_refused(servers, path, token), timeout=10, message="every process refusing")
        assert time.monotonic() - deactivated < 10  # far inside the 300 s the cache would allow


@pytest.mark.slow
def test_without_redis_a_deactivation_reaches_every_process_within_the_bound(tmp_path):
    env = production_env(
        DATABASE_URL=migrated_sqlite_url(tmp_path), API_RATE_LIMIT_USER="off", AUTH_USER_CACHE_SECONDS="2"
    )
    token = bearer(env["BETTER_AUTH_SECRET"], "cached-user")
    path = "/api/cached-user/tasks/"
    with gunicorns([env, env], tmp_path) as servers:
        for server in servers:
            wait_until(
                lambda server=server: server.request("GET", path, headers=token).status == 200, timeout=30
            )

        deactivated = _deactivate_in_another_process(env, "cached-user")

        wait_until(lambda: _all_refused(servers, path, token), timeout=15, message="every process refusing")
        assert time.monotonic() - deactivated < 2 + 5  # the bound, plus a busy machine's slack
