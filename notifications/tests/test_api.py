"""The Web Push routes of docs/API.md §7, through HTTP with real signed tokens."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.tests.factories import UserFactory
from core.tests.support import assert_problem, bearer_client, mint_token
from notifications.models import MAX_SUBSCRIPTIONS_PER_USER, PushSubscription
from notifications.tests.push_service import FakeBrowser, b64url
from notifications.vapid import generate_private_key
from tasks.tests.api_support import SLASH

pytestmark = pytest.mark.django_db


def browser(n: int = 0, origin: str = "https://fcm.googleapis.com") -> dict:
    return FakeBrowser(
        f"b{n}", f"{origin}/fcm/send/abc-{n}", ec.generate_private_key(ec.SECP256R1()), bytes(16)
    ).subscription_json()


def subs_url(user_id: str, *parts, slash: bool = True) -> str:
    url = "/".join([f"/api/{user_id}/push-subscriptions", *(str(p) for p in parts)])
    return url + "/" if slash else url


@SLASH
def test_public_key_needs_no_token_and_is_the_configured_key(api_client, vapid, slash):
    response = api_client.get("/api/push/public-key/" if slash else "/api/push/public-key")
    assert response.status_code == 200
    assert response.json() == {"public_key": vapid}


def test_public_key_without_configuration_is_a_clear_503(api_client, settings):
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    body = assert_problem(api_client.get("/api/push/public-key/"), 503, "service_unavailable")
    assert "VAPID" in body["detail"]
    settings.WEBPUSH_VAPID_PRIVATE_KEY = "not-a-key"
    assert_problem(api_client.get("/api/push/public-key/"), 503, "service_unavailable")


def test_a_pem_private_key_is_accepted(api_client, settings):
    from cryptography.hazmat.primitives import serialization

    key = ec.generate_private_key(ec.SECP256R1())
    settings.WEBPUSH_VAPID_PRIVATE_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    response = api_client.get("/api/push/public-key/")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert response.json() == {"public_key": b64url(public)}


@SLASH
def test_subscribe_list_update_and_delete(auth_client, user, slash):
    sub = browser()
    created = auth_client.post(subs_url(user.pk, slash=slash), sub, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == {"id", "endpoint", "created_at", "last_success_at"}
    assert body["endpoint"] == sub["endpoint"] and body["last_success_at"] is None
    assert created["Location"].endswith(f"/api/{user.pk}/push-subscriptions/{body['id']}/")

    # The same endpoint again: 200, same id, the new keys stored.
    again = browser()
    again["endpoint"] = sub["endpoint"]
    updated = auth_client.post(subs_url(user.pk, slash=slash), again, format="json")
    assert updated.status_code == 200 and updated.json()["id"] == body["id"]
    assert PushSubscription.objects.get(pk=body["id"]).p256dh == again["keys"]["p256dh"]

    listed = auth_client.get(subs_url(user.pk, slash=slash))
    assert listed.status_code == 200 and listed.json() == [body]

    assert auth_client.delete(subs_url(user.pk, body["id"], slash=slash)).status_code == 204
    assert auth_client.get(subs_url(user.pk)).json() == []
    assert_problem(auth_client.delete(subs_url(user.pk, body["id"], slash=slash)), 404, "not_found")


def test_at_most_twenty_per_user(auth_client, user):
    for n in range(MAX_SUBSCRIPTIONS_PER_USER):
        assert auth_client.post(subs_url(user.pk), browser(n), format="json").status_code == 201
    body = assert_problem(
        auth_client.post(subs_url(user.pk), browser(99), format="json"), 400, "validation_error", "endpoint"
    )
    assert "20" in body["detail"]
    # Updating one of the twenty is still fine.
    first = browser(0)
    assert auth_client.post(subs_url(user.pk), first, format="json").status_code == 200


def test_another_users_subscriptions_are_out_of_reach(auth_client, user):
    other = UserFactory()
    theirs = bearer_client(other).post(subs_url(other.pk), browser(), format="json").json()

    # Their URL with my token: 403 before anything is looked up.
    assert_problem(auth_client.get(subs_url(other.pk)), 403, "user_mismatch")
    assert_problem(auth_client.post(subs_url(other.pk), browser(1), format="json"), 403, "user_mismatch")
    assert_problem(auth_client.delete(subs_url(other.pk, theirs["id"])), 403, "user_mismatch")
    # Their id under my URL: 404, and it survives.
    assert_problem(auth_client.delete(subs_url(user.pk, theirs["id"])), 404, "not_found")
    assert PushSubscription.objects.filter(pk=theirs["id"], user=other).exists()
    assert auth_client.get(subs_url(user.pk)).json() == []
    # Huge and non-numeric ids are no route or not found, never a 500.
    assert auth_client.delete(subs_url(user.pk, "9" * 30)).status_code == 404
    assert auth_client.delete(subs_url(user.pk, "abc")).status_code == 404


def test_no_token_or_a_forged_one_is_401(api_client, user):
    assert_problem(api_client.get(subs_url(user.pk)), 401, "not_authenticated")
    token = mint_token(user.pk)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token[:-4]}AAAA")
    assert_problem(api_client.post(subs_url(user.pk), browser(), format="json"), 401, "invalid_token")


PRIVATE_KEY, _ = generate_private_key()
P256DH = browser()["keys"]["p256dh"]
AUTH = "AAAAAAAAAAAAAAAAAAAAAA"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endpoint": "http://push.example.com/x"}, "endpoint"),
        ({"endpoint": "https://127.0.0.1/x"}, "endpoint"),
        ({"endpoint": "https://localhost/x"}, "endpoint"),
        ({"endpoint": "https://[::1]/x"}, "endpoint"),
        ({"endpoint": "https://user:pw@push.example.com/x"}, "endpoint"),
        ({"endpoint": "ftp://push.example.com/x"}, "endpoint"),
        ({"endpoint": "push.example.com/x"}, "endpoint"),
        ({"endpoint": "https://push.example.com/" + "a" * 10_000}, "endpoint"),
        ({"endpoint": "https://push.example.com/a b"}, "endpoint"),
        ({"endpoint": "https://push.example.com/\x00"}, "endpoint"),
        ({"endpoint": 42}, "endpoint"),
        ({"endpoint": None}, "endpoint"),
        ({"keys": None}, "keys"),
        ({"keys": {"auth": AUTH}}, "keys"),
        # A private key where the public one goes: 32 bytes, not a point.
        ({"keys": {"p256dh": PRIVATE_KEY, "auth": AUTH}}, "keys"),
        # 65 bytes starting with 04 that are not on the curve.
        ({"keys": {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": AUTH}}, "keys"),
        ({"keys": {"p256dh": "!!!garbage!!!", "auth": AUTH}}, "keys"),
        ({"keys": {"p256dh": "A" * 100_000, "auth": AUTH}}, "keys"),
        ({"keys": {"p256dh": None, "auth": AUTH}}, "keys"),
        ({"keys": {"p256dh": P256DH, "auth": "AAAA"}}, "keys"),
        ({"keys": {"p256dh": P256DH, "auth": b64url(bytes(17))}}, "keys"),
        ({"keys": {"p256dh": P256DH, "auth": "é" * 22}}, "keys"),
        ({"keys": {"p256dh": P256DH, "auth": "A" * 10_000}}, "keys"),
        ({"keys": "p256dh"}, "keys"),
    ],
)
def test_hostile_subscriptions_are_400(auth_client, user, change, field):
    sub = browser()
    sub.update(change)
    assert_problem(auth_client.post(subs_url(user.pk), sub, format="json"), 400, "validation_error", field)
    assert not PushSubscription.objects.exists()


def test_http_and_local_endpoints_are_fine_with_the_flag(auth_client, user, settings):
    settings.WEBPUSH_ALLOW_HTTP = True
    response = auth_client.post(subs_url(user.pk), browser(origin="http://127.0.0.1:8123"), format="json")
    assert response.status_code == 201, response.content


def test_the_routes_are_in_the_openapi_schema(api_client):
    paths = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert "/api/push/public-key/" in paths
    assert {"get", "post"} <= set(paths["/api/{user_id}/push-subscriptions/"])
    assert "delete" in paths["/api/{user_id}/push-subscriptions/{id}/"]
