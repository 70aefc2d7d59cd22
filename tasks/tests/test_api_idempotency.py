"""Idempotency-Key on POST /tasks/: replay, conflict, scope, key form, and the concurrent case."""

import pytest

from core.tests.support import assert_problem, bearer_client
from tasks.tests.api_support import ids, postgres_only, run_concurrently, tasks_url

pytestmark = pytest.mark.django_db

BODY = {"title": "Buy milk", "tags": ["errands"], "priority": "low"}


def post(client, user_id, body, key, slash=True):
    return client.post(tasks_url(user_id, slash=slash), body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def all_tasks(client, user_id):
    return client.get(tasks_url(user_id)).json()


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
def test_replay_returns_the_stored_response_and_creates_nothing(auth_client, user, slash):
    first = post(auth_client, user.pk, BODY, "order-42", slash)

    replay = post(auth_client, user.pk, BODY, "order-42", slash)

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Location"] == first["Location"]
    assert replay["ETag"] == first["ETag"]
    assert ids(all_tasks(auth_client, user.pk)) == [first.json()["id"]]


def test_replay_returns_the_creation_response_even_after_the_task_changed(auth_client, user):
    first = post(auth_client, user.pk, BODY, "k1")
    auth_client.patch(tasks_url(user.pk, first.json()["id"]), {"title": "Changed"}, format="json")

    replay = post(auth_client, user.pk, BODY, "k1")

    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert len(all_tasks(auth_client, user.pk)) == 1


def test_same_body_in_another_key_order_and_spacing_is_a_replay(auth_client, user):
    first = post(auth_client, user.pk, BODY, "k2")
    raw = b'{ "priority" : "low",\n "tags": ["errands"],  "title": "Buy milk" }'

    replay = auth_client.generic(
        "POST", tasks_url(user.pk), raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k2"
    )

    assert replay.status_code == 201, replay.content
    assert replay.json() == first.json()
    assert len(all_tasks(auth_client, user.pk)) == 1


@pytest.mark.parametrize(
    "other_body",
    [{**BODY, "title": "Buy bread"}, {**BODY, "tags": ["errands", "food"]}, {"title": "Buy milk"}],
    ids=["other-title", "other-tags", "fewer-fields"],
)
def test_same_key_with_a_different_body_is_422_and_creates_nothing(auth_client, user, other_body):
    first = post(auth_client, user.pk, BODY, "k3")

    response = post(auth_client, user.pk, other_body, "k3")

    assert_problem(response, 422, "idempotency_conflict")
    assert ids(all_tasks(auth_client, user.pk)) == [first.json()["id"]]


def test_different_keys_create_different_tasks(auth_client, user):
    first = post(auth_client, user.pk, BODY, "k4")
    second = post(auth_client, user.pk, BODY, "k5")

    assert first.json()["id"] != second.json()["id"]
    assert len(all_tasks(auth_client, user.pk)) == 2


def test_without_a_key_every_post_creates(auth_client, user):
    auth_client.post(tasks_url(user.pk), BODY, format="json")
    auth_client.post(tasks_url(user.pk), BODY, format="json")

    assert len(all_tasks(auth_client, user.pk)) == 2


def test_keys_are_scoped_to_the_user(auth_client, user, other_user, make_token):
    other_client = bearer_client(other_user)
    mine = post(auth_client, user.pk, BODY, "shared-key")

    theirs = post(other_client, other_user.pk, BODY, "shared-key")
    conflict_free = post(other_client, other_user.pk, {"title": "Other"}, "mine-only")

    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["user_id"] == other_user.pk
    assert conflict_free.status_code == 201
    assert ids(all_tasks(auth_client, user.pk)) == [mine.json()["id"]]
    assert len(all_tasks(other_client, other_user.pk)) == 2


@pytest.mark.parametrize(
    "key",
    ["has space", "k" * 256, "cl\u00e9", "\u043a\u043b\u044e\u0447", "tab\tkey", "del\x7fkey"],
    ids=["space", "256-chars", "latin-1", "cyrillic", "tab", "DEL"],
)
def test_key_outside_the_allowed_form_is_400_keyed_idempotency_key(auth_client, user, key):
    response = post(auth_client, user.pk, BODY, key)

    assert_problem(response, 400, "validation_error", "Idempotency-Key")
    assert all_tasks(auth_client, user.pk) == []


@pytest.mark.parametrize(
    "key", ["k" * 255, "!", "~", "a-Z_0.9:/+=@{}"], ids=["255-chars", "bang", "tilde", "punct"]
)
def test_key_of_printable_ascii_up_to_255_characters_is_accepted(auth_client, user, key):
    first = post(auth_client, user.pk, BODY, key)
    replay = post(auth_client, user.pk, BODY, key)

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert len(all_tasks(auth_client, user.pk)) == 1


def test_a_failed_request_is_not_stored(auth_client, user):
    failed = post(auth_client, user.pk, {"title": ""}, "retry-me")

    fixed = post(auth_client, user.pk, BODY, "retry-me")

    assert_problem(failed, 400, "validation_error", "title")
    assert fixed.status_code == 201, fixed.content
    assert len(all_tasks(auth_client, user.pk)) == 1


def test_the_same_failed_request_is_validated_again_not_replayed_as_stored(auth_client, user):
    post(auth_client, user.pk, {"title": ""}, "bad-twice")

    again = post(auth_client, user.pk, {"title": ""}, "bad-twice")

    assert_problem(again, 400, "validation_error", "title")
    assert all_tasks(auth_client, user.pk) == []


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("requests", [2, 6])
def test_concurrent_requests_with_one_key_create_exactly_one_task(user, make_token, requests):
    responses = run_concurrently(
        *(lambda: post(bearer_client(user), user.pk, BODY, "double-click") for _ in range(requests))
    )

    assert len(responses) == requests
    created = [response for response in responses if response.status_code == 201]
    in_progress = [response for response in responses if response.status_code == 409]
    assert len(created) + len(in_progress) == requests, [r.status_code for r in responses]
    assert created, "at least the first request succeeds"
    assert len({response.json()["id"] for response in created}) == 1
    assert len({response["Location"] for response in created}) == 1
    for response in in_progress:
        assert_problem(response, 409, "idempotency_in_progress")
        assert int(response["Retry-After"]) >= 1
    client = bearer_client(user)
    assert ids(all_tasks(client, user.pk)) == [created[0].json()["id"]]
    replay = post(client, user.pk, BODY, "double-click")
    assert replay.status_code == 201
    assert replay.json() == created[0].json()


def test_a_key_older_than_24_hours_is_taken_anew(auth_client, user):
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import IdempotencyKey

    first = post(auth_client, user.pk, BODY, "yesterday")
    IdempotencyKey.objects.filter(key="yesterday").update(created_at=timezone.now() - timedelta(hours=25))

    second = post(auth_client, user.pk, {"title": "Another body"}, "yesterday")

    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in second
    record = IdempotencyKey.objects.get(key="yesterday")
    assert record.response_body["id"] == second.json()["id"]
    assert post(auth_client, user.pk, {"title": "Another body"}, "yesterday").json() == second.json()


def test_a_live_key_with_another_body_leaves_no_task_behind(auth_client, user):
    post(auth_client, user.pk, BODY, "k-live")

    conflict = post(auth_client, user.pk, {"title": "Different"}, "k-live")

    assert_problem(conflict, 422, "idempotency_conflict")
    assert [task["title"] for task in all_tasks(auth_client, user.pk)] == ["Buy milk"]
