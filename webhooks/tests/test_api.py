"""The webhook routes of docs/API.md §9, through HTTP with real signed tokens."""

import base64

import pytest

from core.tests.support import assert_problem, bearer_client
from tasks.tests.api_support import RFC3339_UTC, SLASH
from webhooks.models import EVENTS, Webhook
from webhooks.tests.support import create_webhook, webhooks_url

HOOK = "https://hooks.example.com/todo"


@SLASH
def test_create_answers_the_webhook_with_its_secret_once(auth_client, user, slash, allow_private):
    response = auth_client.post(
        webhooks_url(user.pk, slash=slash), {"url": HOOK, "events": ["task.created"]}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "url", "events", "created_at", "disabled_at", "secret"}
    assert body["url"] == HOOK and body["events"] == ["task.created"] and body["disabled_at"] is None
    assert RFC3339_UTC.match(body["created_at"])
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"][len("whsec_") :], validate=True)) == 32

    listed = auth_client.get(webhooks_url(user.pk, slash=slash))
    assert listed.status_code == 200
    assert listed.json() == [{key: value for key, value in body.items() if key != "secret"}]


def test_secret_is_not_stored_in_clear(auth_client, user, allow_private):
    secret = create_webhook(auth_client, user.pk, HOOK)["secret"]
    stored = Webhook.objects.get(user=user).secret_encrypted
    assert secret not in stored and secret[6:] not in stored


def test_two_webhooks_have_different_secrets(auth_client, user, allow_private):
    first = create_webhook(auth_client, user.pk, HOOK)["secret"]
    second = create_webhook(auth_client, user.pk, HOOK)["secret"]
    assert first != second


def test_events_are_merged_and_ordered(auth_client, user, allow_private):
    body = create_webhook(
        auth_client, user.pk, HOOK, ["reminder.due", "task.created", "reminder.due", "task.deleted"]
    )
    assert body["events"] == ["task.created", "task.deleted", "reminder.due"]


def test_every_event_name_is_accepted(auth_client, user, allow_private):
    assert create_webhook(auth_client, user.pk, HOOK, list(EVENTS))["events"] == list(EVENTS)


@pytest.mark.parametrize(
    "events",
    [
        None,
        [],
        "task.created",
        {"task.created": True},
        ["task.exploded"],
        [1],
        [None],
        ["TASK.CREATED"],
        [["x"]],
    ],
    ids=["missing", "empty", "string", "object", "unknown", "number", "null", "case", "nested"],
)
def test_bad_events_are_400_keyed_events(auth_client, user, events, allow_private):
    body = {"url": HOOK} if events is None else {"url": HOOK, "events": events}
    response = auth_client.post(webhooks_url(user.pk), body, format="json")
    assert_problem(response, 400, "validation_error", "events")
    assert not Webhook.objects.exists()


def test_eleventh_webhook_is_refused(auth_client, user, allow_private):
    for _ in range(10):
        create_webhook(auth_client, user.pk, HOOK)
    response = auth_client.post(
        webhooks_url(user.pk), {"url": HOOK, "events": ["task.created"]}, format="json"
    )
    assert_problem(response, 400, "validation_error", "non_field_errors")
    assert Webhook.objects.filter(user=user).count() == 10


def test_the_limit_counts_per_user(auth_client, user, other_user, allow_private):
    for _ in range(10):
        create_webhook(auth_client, user.pk, HOOK)
    create_webhook(bearer_client(other_user), other_user.pk, HOOK)


def test_delete_removes_it(auth_client, user, allow_private):
    webhook = create_webhook(auth_client, user.pk, HOOK)
    response = auth_client.delete(webhooks_url(user.pk, webhook["id"]))
    assert response.status_code == 204
    assert auth_client.get(webhooks_url(user.pk)).json() == []
    assert_problem(auth_client.delete(webhooks_url(user.pk, webhook["id"])), 404, "not_found")


def test_other_users_webhook_is_404(auth_client, user, other_user, allow_private):
    theirs = create_webhook(bearer_client(other_user), other_user.pk, HOOK)
    assert_problem(auth_client.delete(webhooks_url(user.pk, theirs["id"])), 404, "not_found")
    assert_problem(auth_client.get(webhooks_url(user.pk, theirs["id"], "deliveries")), 404, "not_found")
    assert Webhook.objects.filter(pk=theirs["id"]).exists()
    assert auth_client.get(webhooks_url(user.pk)).json() == []


@pytest.mark.parametrize(
    "webhook_id", ["0", "999999999999999999", "-1", "abc", "1e3", "9999999999999999999999"]
)
def test_unknown_or_malformed_ids_are_404(auth_client, user, webhook_id):
    assert_problem(auth_client.delete(webhooks_url(user.pk, webhook_id)), 404, "not_found")
    assert_problem(auth_client.get(webhooks_url(user.pk, webhook_id, "deliveries")), 404, "not_found")


def test_another_users_url_is_403_user_mismatch(auth_client, other_user):
    assert_problem(auth_client.get(webhooks_url(other_user.pk)), 403, "user_mismatch")
    response = auth_client.post(
        webhooks_url(other_user.pk), {"url": HOOK, "events": ["task.created"]}, format="json"
    )
    assert_problem(response, 403, "user_mismatch")


def test_without_token_is_401(api_client, user):
    assert_problem(api_client.get(webhooks_url(user.pk)), 401, "not_authenticated")


def test_forged_token_is_401(api_client, user):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.forged")
    assert_problem(api_client.get(webhooks_url(user.pk)), 401, "invalid_token")


@pytest.mark.parametrize(
    "body",
    [[], "x", 1, None, {"url": None, "events": ["task.created"]}, {"url": 5, "events": ["task.created"]}],
)
def test_hostile_bodies_are_400(auth_client, user, body):
    response = auth_client.post(webhooks_url(user.pk), body, format="json")
    assert_problem(response, 400, "validation_error")


def test_malformed_json_is_400(auth_client, user):
    response = auth_client.post(webhooks_url(user.pk), b"{not json", content_type="application/json")
    assert_problem(response, 400, "malformed_json")


def test_put_is_405(auth_client, user, allow_private):
    webhook = create_webhook(auth_client, user.pk, HOOK)
    response = auth_client.put(webhooks_url(user.pk, webhook["id"]), {}, format="json")
    assert_problem(response, 405, "method_not_allowed")


def test_deliveries_of_a_new_webhook_are_empty(auth_client, user, allow_private):
    webhook = create_webhook(auth_client, user.pk, HOOK)
    response = auth_client.get(webhooks_url(user.pk, webhook["id"], "deliveries"))
    assert response.status_code == 200 and response.json() == []


def test_routes_are_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/api/{user_id}/webhooks/"])
    assert "delete" in paths["/api/{user_id}/webhooks/{id}/"]
    assert "get" in paths["/api/{user_id}/webhooks/{id}/deliveries/"]
