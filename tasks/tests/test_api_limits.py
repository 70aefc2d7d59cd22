"""docs/API.md §5 on the task routes: body size, media type, per-user rate limit; idempotency key expiry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.tests.support import assert_problem, bearer_client
from tasks.models import IdempotencyKey, Task
from tasks.tests.api_support import create_task, get_task, tasks_url

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


@pytest.fixture
def task(auth_client, user):
    return create_task(auth_client, user.pk, title="Existing")


def test_body_over_1_mib_is_413_on_create(auth_client, user):
    response = auth_client.post(tasks_url(user.pk), {"title": "big", "description": "x" * MIB}, format="json")

    assert_problem(response, 413, "payload_too_large")
    assert auth_client.get(tasks_url(user.pk)).json() == []


def test_body_over_1_mib_is_413_on_update(auth_client, user, task):
    response = auth_client.patch(tasks_url(user.pk, task["id"]), {"description": "x" * MIB}, format="json")

    assert_problem(response, 413, "payload_too_large")
    assert get_task(auth_client, user.pk, task["id"]) == task


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_non_json_content_type_on_a_write_is_415(auth_client, user, task, content_type):
    response = auth_client.generic(
        "PATCH", tasks_url(user.pk, task["id"]), b'{"title": "changed"}', content_type=content_type
    )

    assert_problem(response, 415, "unsupported_media_type")
    assert get_task(auth_client, user.pk, task["id"]) == task


def test_malformed_json_on_bulk_is_400_malformed_json(auth_client, user):
    response = auth_client.generic(
        "POST",
        tasks_url(user.pk, "bulk"),
        b'{"action": "delete_completed",}',
        content_type="application/json",
    )

    assert_problem(response, 400, "malformed_json")


def test_rate_limit_is_per_user_on_the_task_api(settings, auth_client, user, other_user, make_token):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "3/min"},
    }
    url = tasks_url(user.pk)

    statuses = [auth_client.get(url).status_code for _ in range(3)]
    limited = auth_client.post(url, {"title": "one too many"}, format="json")
    other = bearer_client(other_user).get(tasks_url(other_user.pk))

    assert statuses == [200, 200, 200]
    assert_problem(limited, 429, "rate_limited")
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert other.status_code == 200
    assert not Task.objects.filter(user=user).exists()


def test_an_idempotency_key_older_than_24_hours_is_forgotten(auth_client, user):
    first = auth_client.post(
        tasks_url(user.pk), {"title": "first"}, format="json", HTTP_IDEMPOTENCY_KEY="daily"
    )
    # Age the stored key instead of waiting a day; the request path is the real one.
    IdempotencyKey.objects.filter(key="daily").update(
        created_at=timezone.now() - timedelta(hours=24, minutes=1)
    )

    second = auth_client.post(
        tasks_url(user.pk), {"title": "second"}, format="json", HTTP_IDEMPOTENCY_KEY="daily"
    )

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert second.json()["title"] == "second"


def test_an_idempotency_key_younger_than_24_hours_is_still_replayed(auth_client, user):
    first = auth_client.post(
        tasks_url(user.pk), {"title": "first"}, format="json", HTTP_IDEMPOTENCY_KEY="daily"
    )
    IdempotencyKey.objects.filter(key="daily").update(
        created_at=timezone.now() - timedelta(hours=23, minutes=59)
    )

    replay = auth_client.post(
        tasks_url(user.pk), {"title": "first"}, format="json", HTTP_IDEMPOTENCY_KEY="daily"
    )

    assert replay.json() == first.json()
    assert len(auth_client.get(tasks_url(user.pk)).json()) == 1
