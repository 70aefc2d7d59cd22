"""Rate limits (docs/API.md §5): per user on the API, per client address on /api/auth/*, 429, Retry-After."""

import logging
import secrets
import threading
import time
import uuid

import pytest
import redis
from rest_framework.test import APIClient

from core import throttling
from core.throttling import allowance_batch, parse_rate, take_slot
from todo_project.tests.deploy_support import (
    bearer,
    free_port,
    gunicorns,
    migrated_sqlite_url,
    production_env,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
WRONG_LOGIN = {"email": "nobody@example.com", "password": "not the password"}


@pytest.fixture
def rates(settings):
    """rates(user=..., auth=...) sets the limits for this test (None switches one off)."""

    def set_rates(**scopes):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scopes},
        }

    return set_rates


def _redis_available() -> bool:
    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def redis_cache(settings):
    """The default cache on the local Redis, under a key prefix of this test's own."""
    if not _redis_available():
        pytest.skip("Redis is not running at 127.0.0.1:6379 (.ci/run starts it)")
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def assert_rate_limited(response, max_wait: int) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["status"] == 429
    assert body["request_id"] == response["X-Request-ID"]
    assert 1 <= int(response["Retry-After"]) <= max_wait


# --- Parsing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("600/min", (600, 60)),
        ("20/15min", (20, 900)),
        ("5/s", (5, 1)),
        ("100/hour", (100, 3600)),
        ("1000/day", (1000, 86400)),
        ("3/2hours", (3, 7200)),
        ("10/Minute", (10, 60)),
    ],
)
def test_rates_are_read_as_requests_per_period(rate, expected):
    assert parse_rate(rate) == expected


@pytest.mark.parametrize("rate", ["lots", "10", "10/fortnight", "0/min", "-1/min", "10/0min", "/min"])
def test_malformed_rates_are_refused(rate):
    with pytest.raises(ValueError, match="Not a rate"):
        parse_rate(rate)


# --- Per user --------------------------------------------------------------------------------------
def test_a_user_over_the_limit_gets_429_rate_limited_with_retry_after(rates, auth_client):
    rates(user="3/hour")
    assert [auth_client.get("/api/me/").status_code for _ in range(3)] == [200, 200, 200]
    assert_rate_limited(auth_client.get("/api/me/"), max_wait=3600)


def test_the_limit_is_per_user(rates, auth_client, other_user, make_token):
    rates(user="2/hour")
    for _ in range(3):
        auth_client.get("/api/me/")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(other_user.pk)}")
    assert other.get("/api/me/").status_code == 200


def test_one_user_has_one_budget_across_routes_and_addresses(rates, auth_client, user):
    rates(user="3/hour")
    assert auth_client.get("/api/me/").status_code == 200
    assert auth_client.get(f"/api/{user.pk}/tasks/", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert auth_client.get(f"/api/{user.pk}/tags/", REMOTE_ADDR="10.0.0.2").status_code == 200
    assert_rate_limited(auth_client.get(f"/api/{user.pk}/tasks/", REMOTE_ADDR="10.0.0.3"), max_wait=3600)


def test_a_rate_limited_write_changes_nothing(rates, auth_client, user):
    rates(user="1/hour")
    assert auth_client.get(f"/api/{user.pk}/tasks/").json() == []
    assert_rate_limited(auth_client.post(f"/api/{user.pk}/tasks/", {"title": "x"}, format="json"), 3600)
    rates(user=None)
    assert auth_client.get(f"/api/{user.pk}/tasks/").json() == []


def test_retry_after_is_when_a_request_is_allowed_again(rates, auth_client):
    rates(user="2/4s")  # long enough that a slow machine still makes three requests within it
    assert auth_client.get("/api/me/").status_code == 200
    assert auth_client.get("/api/me/").status_code == 200
    limited = auth_client.get("/api/me/")
    assert_rate_limited(limited, max_wait=4)
    time.sleep(int(limited["Retry-After"]) + 0.05)
    assert auth_client.get("/api/me/").status_code == 200


def test_requests_without_a_valid_token_do_not_use_up_a_users_budget(rates, auth_client, api_client, user):
    rates(user="2/hour")
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert {api_client.get("/api/me/").status_code for _ in range(5)} == {401}
    assert auth_client.get("/api/me/").status_code == 200


def test_a_limit_switched_off_does_not_limit(rates, auth_client):
    rates(user=None)
    assert {auth_client.get("/api/me/").status_code for _ in range(30)} == {200}


# --- Per address on /api/auth/* ----------------------------------------------------------------------
def test_sign_in_is_limited_per_client_address(rates, db, api_client):
    rates(auth="3/hour")
    statuses = [api_client.post("/api/auth/token/", WRONG_LOGIN, format="json").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    # Every auth route shares the address's budget: registering is refused as well.
    new_account = {"email": "new@example.com", "password": "a long enough password 123"}
    assert_rate_limited(api_client.post("/api/auth/register/", new_account, format="json"), 3600)
    assert_rate_limited(api_client.post("/api/auth/token/refresh/", {"refresh": "x"}, format="json"), 3600)
    # Another address is not affected.
    assert (
        api_client.post("/api/auth/token/", WRONG_LOGIN, format="json", REMOTE_ADDR="10.9.9.9").status_code
        == 401
    )


def test_a_spoofed_x_forwarded_for_does_not_reset_the_limit(rates, db, api_client):
    rates(auth="2/hour")  # NUM_PROXIES is 0: the header is not trusted at all
    for number in range(2):
        api_client.post(
            "/api/auth/token/", WRONG_LOGIN, format="json", HTTP_X_FORWARDED_FOR=f"1.2.3.{number}"
        )
    response = api_client.post("/api/auth/token/", WRONG_LOGIN, format="json", HTTP_X_FORWARDED_FOR="9.9.9.9")
    assert_rate_limited(response, 3600)


def test_behind_one_proxy_the_address_it_saw_is_the_client(rates, settings, db, api_client):
    rates(auth="2/hour")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # The proxy appends the address it saw; whatever the client wrote before it is ignored.
    for spoofed in ("1.1.1.1", "2.2.2.2"):
        forwarded = f"{spoofed}, 203.0.113.7"
        api_client.post("/api/auth/token/", WRONG_LOGIN, format="json", HTTP_X_FORWARDED_FOR=forwarded)
    limited = api_client.post(
        "/api/auth/token/", WRONG_LOGIN, format="json", HTTP_X_FORWARDED_FOR="3.3.3.3, 203.0.113.7"
    )
    assert_rate_limited(limited, 3600)
    other = api_client.post(
        "/api/auth/token/", WRONG_LOGIN, format="json", HTTP_X_FORWARDED_FOR="203.0.113.8"
    )
    assert other.status_code == 401


def test_the_auth_limit_does_not_apply_to_the_task_api(rates, auth_client, user):
    rates(auth="1/hour", user=None)
    assert {auth_client.get(f"/api/{user.pk}/tasks/").status_code for _ in range(5)} == {200}


def test_rate_limited_responses_are_readable_by_the_browser_frontend(rates, settings, auth_client):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    rates(user="1/hour")
    auth_client.get("/api/me/")
    limited = auth_client.get("/api/me/", HTTP_ORIGIN="https://app.example.com")
    assert_rate_limited(limited, 3600)
    assert limited["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "retry-after" in limited["Access-Control-Expose-Headers"].lower()


# --- Counters in Redis ---------------------------------------------------------------------------------
def test_limits_hold_with_counters_in_redis(redis_cache, rates, auth_client):
    rates(user="3/hour")
    assert [auth_client.get("/api/me/").status_code for _ in range(3)] == [200, 200, 200]
    assert_rate_limited(auth_client.get("/api/me/"), max_wait=3600)
    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(f"{redis_cache}:*throttle:user:*"))
    assert len(keys) == 1
    assert 0 < redis.Redis.from_url(REDIS_URL).pttl(keys[0]) <= 3600 * 1000  # counters expire


@pytest.mark.parametrize("backend", ["redis", "local memory"])
def test_concurrent_requests_cannot_slip_past_the_limit(backend, request, settings):
    if backend == "redis":
        request.getfixturevalue("redis_cache")
    results: list[float | None] = []
    start = threading.Barrier(20)

    def hit():
        start.wait(timeout=10)
        results.append(take_slot("throttle:test:race", 7, 3600))

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 20
    assert sum(1 for wait in results if wait is None) == 7


def test_a_high_limit_takes_slots_from_redis_in_batches_and_never_grants_more(redis_cache):
    """300/hour: a process takes 3 slots per round trip; 310 requests get exactly 300 through."""
    granted = [take_slot("throttle:test:batch", 300, 3600) is None for _ in range(310)]
    stamped = redis.Redis.from_url(REDIS_URL).zcard(f"{redis_cache}:1:throttle:test:batch")

    assert allowance_batch(300) == 3
    assert granted == [True] * 300 + [False] * 10
    assert stamped == 300


def test_slots_a_process_did_not_use_in_time_lapse_and_stay_counted(redis_cache, monkeypatch):
    monkeypatch.setattr(throttling, "ALLOWANCE_SECONDS", 0.0)
    for _ in range(4):
        assert take_slot("throttle:test:lapse", 1000, 3600) is None

    # Every call went to Redis and took a batch of 10: 40 slots counted for 4 requests.
    assert allowance_batch(1000) == 10
    assert redis.Redis.from_url(REDIS_URL).zcard(f"{redis_cache}:1:throttle:test:lapse") == 40


def test_a_low_limit_stays_exact_with_one_round_trip_per_request(redis_cache):
    assert allowance_batch(20) == 1
    assert [take_slot("throttle:test:exact", 20, 60) is None for _ in range(22)] == [True] * 20 + [False] * 2
    assert redis.Redis.from_url(REDIS_URL).zcard(f"{redis_cache}:1:throttle:test:exact") == 20


def test_an_unreachable_cache_lets_requests_through_and_says_so(settings, rates, auth_client, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    rates(user="1/hour")
    with caplog.at_level(logging.WARNING, logger="core.throttling"):
        assert [auth_client.get("/api/me/").status_code for _ in range(3)] == [200, 200, 200]
    assert "Rate limiting skipped" in caplog.text


# --- Two server processes, one Redis ---------------------------------------------------------------------
@pytest.mark.slow
def test_two_server_processes_sharing_redis_enforce_one_limit(tmp_path):
    if not _redis_available():
        pytest.skip("Redis is not running at 127.0.0.1:6379 (.ci/run starts it)")
    prefix = f"test-{uuid.uuid4().hex}"
    env = production_env(
        DATABASE_URL=migrated_sqlite_url(tmp_path),
        REDIS_URL=REDIS_URL,
        CACHE_KEY_PREFIX=prefix,
        API_RATE_LIMIT_USER="6/hour",
        API_RATE_LIMIT_AUTH="4/hour",
    )
    try:
        with gunicorns([env, env], tmp_path) as (a, b):
            # Per user: six requests in all, alternating between the processes, then both refuse.
            token = bearer(env["BETTER_AUTH_SECRET"], "shared-user")
            statuses = [(a, b)[n % 2].request("GET", "/api/me/", headers=token).status for n in range(6)]
            assert statuses == [200] * 6
            for server in (a, b):
                limited = server.request("GET", "/api/me/", headers=token)
                assert limited.status == 429
                assert limited.json()["code"] == "rate_limited"
                assert 1 <= int(limited.headers["retry-after"]) <= 3600
            other = bearer(env["BETTER_AUTH_SECRET"], "another-user")
            assert b.request("GET", "/api/me/", headers=other).status == 200

            # Per address on sign-in: four attempts in all, whichever process answers.
            attempts = [
                (b, a)[n % 2].request("POST", "/api/auth/token/", body=WRONG_LOGIN).status for n in range(4)
            ]
            assert attempts == [401] * 4
            assert a.request("POST", "/api/auth/token/", body=WRONG_LOGIN).status == 429
            assert b.request("POST", "/api/auth/token/", body=WRONG_LOGIN).status == 429
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


@pytest.mark.slow
def test_without_a_shared_cache_each_process_counts_alone(tmp_path):
    # The control for the test above: it is Redis that makes the limit shared.
    env = production_env(DATABASE_URL=migrated_sqlite_url(tmp_path), API_RATE_LIMIT_USER="2/hour")
    with gunicorns([env, env], tmp_path) as (a, b):
        token = bearer(env["BETTER_AUTH_SECRET"], f"user-{secrets.token_hex(4)}")
        statuses = [(a, b)[n % 2].request("GET", "/api/me/", headers=token).status for n in range(4)]
        assert statuses == [200, 200, 200, 200]
        assert a.request("GET", "/api/me/", headers=token).status == 429
