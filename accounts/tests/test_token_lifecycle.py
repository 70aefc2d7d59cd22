"""Issue 12: refresh tokens rotated and revocable (reuse detection), standalone tokens told apart
from Better Auth's by their issuer, and every Bearer token's lifetime bounded."""

import threading
import time

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import user_set_active
from accounts.tests.helpers import assert_refused_token, me
from core.tests.support import assert_problem, better_auth_claims, sign_hs256
from tasks.tests.api_support import postgres_only

pytestmark = pytest.mark.django_db

REGISTER = "/api/auth/register/"
TOKEN = "/api/auth/token/"
REFRESH = "/api/auth/token/refresh/"
REVOKE = "/api/auth/token/revoke/"
PASSWORD = "correct horse battery staple 42"


def register(client, email="alice@example.com") -> dict:
    response = client.post(REGISTER, {"email": email, "password": PASSWORD, "name": "Alice"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def sign_in(client, email="alice@example.com") -> dict:
    response = client.post(TOKEN, {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def refresh(client, token: str):
    return client.post(REFRESH, {"refresh": token}, format="json")


# --- Rotation and reuse detection ---------------------------------------------------------------
def test_refresh_rotates_the_refresh_token_and_spends_the_old_one(api_client):
    first = register(api_client)["refresh"]
    response = refresh(api_client, first)
    assert response.status_code == 200
    second = response.json()["refresh"]
    assert second != first
    assert refresh(api_client, second).status_code == 200  # the new one works once too
    assert_refused_token(refresh(api_client, first))


def test_presenting_a_spent_token_again_revokes_every_refresh_token_of_the_user(api_client):
    phone = register(api_client)["refresh"]
    laptop = sign_in(api_client)["refresh"]
    rotated = refresh(api_client, phone).json()["refresh"]
    # An attacker replays the spent token: refused, and the whole family is spent.
    assert_refused_token(refresh(api_client, phone))
    assert_refused_token(refresh(api_client, rotated))
    assert_refused_token(refresh(api_client, laptop))
    # Signing in again starts a new family.
    assert refresh(api_client, sign_in(api_client)["refresh"]).status_code == 200


def test_reuse_leaves_other_users_tokens_alone(api_client):
    alice = register(api_client)["refresh"]
    bob = register(api_client, email="bob@example.com")["refresh"]
    refresh(api_client, alice)
    assert_refused_token(refresh(api_client, alice))
    assert refresh(api_client, bob).status_code == 200


def test_a_refresh_token_issued_before_rotation_existed_is_refused(api_client, settings):
    body = register(api_client)
    claims = jwt.decode(
        body["refresh"],
        settings.BETTER_AUTH_SECRET.encode(),
        algorithms=["HS256"],
        options={"verify_aud": False},
    )
    unknown = sign_hs256({**claims, "jti": "0" * 32})  # well signed, never recorded
    assert_refused_token(refresh(api_client, unknown))


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_two_concurrent_refreshes_of_one_token_exactly_one_wins(round_):
    token = register(APIClient(), email=f"racer{round_}@example.com")["refresh"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    bodies: list[dict] = []

    def attempt() -> None:
        try:
            barrier.wait(timeout=10)
            response = refresh(APIClient(), token)
            statuses.append(response.status_code)
            bodies.append(response.json())
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200, 401]
    # The loser presented a spent token: reuse, so the winner's new token is spent too.
    winner = next(body for body in bodies if "refresh" in body)
    assert_refused_token(refresh(APIClient(), winner["refresh"]))


# --- Revocation -----------------------------------------------------------------------------------
def test_revoke_spends_one_refresh_token(api_client):
    phone = register(api_client)["refresh"]
    laptop = sign_in(api_client)["refresh"]
    response = api_client.post(REVOKE, {"refresh": phone}, format="json")
    assert response.status_code == 204
    assert response.content == b""
    assert api_client.post(REVOKE, {"refresh": phone}, format="json").status_code == 204  # again: 204
    assert refresh(api_client, laptop).status_code == 200


def test_a_revoked_token_presented_to_refresh_counts_as_reuse(api_client):
    phone = register(api_client)["refresh"]
    laptop = sign_in(api_client)["refresh"]
    api_client.post(REVOKE, {"refresh": phone}, format="json")
    assert_refused_token(refresh(api_client, phone))
    assert_refused_token(refresh(api_client, laptop))


def test_revoke_all_with_a_bearer_token_spends_every_refresh_token(api_client):
    phone = register(api_client)
    laptop = sign_in(api_client)["refresh"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {phone['access']}")
    assert api_client.post(REVOKE, {"all": True}, format="json").status_code == 204
    api_client.credentials()
    assert_refused_token(refresh(api_client, phone["refresh"]))
    assert_refused_token(refresh(api_client, laptop))


def test_revoke_all_without_a_bearer_token_is_401(api_client):
    register(api_client)
    assert_problem(api_client.post(REVOKE, {"all": True}, format="json"), 401, "not_authenticated")


@pytest.mark.parametrize("payload", [{}, {"refresh": ""}, {"refresh": "  "}, {"all": False}])
def test_revoke_without_a_refresh_token_is_400_on_refresh(api_client, payload):
    body = assert_problem(api_client.post(REVOKE, payload, format="json"), 400, "validation_error")
    assert list(body["errors"]) == ["refresh"]


def test_revoke_of_an_invalid_token_is_401(api_client):
    access = register(api_client)["access"]
    for token in ["garbage", access]:
        assert_refused_token(api_client.post(REVOKE, {"refresh": token}, format="json"))


def test_revoke_is_404_when_standalone_mode_is_off(api_client, settings):
    settings.LOCAL_AUTH_ENABLED = False
    assert_problem(api_client.post(REVOKE, {"refresh": "x"}, format="json"), 404, "not_found")


def test_a_password_change_spends_every_refresh_token(api_client):
    body = register(api_client)
    user = User.objects.get(pk=body["user"]["id"])
    user.set_password("another long passphrase 77")
    user.save()
    assert_refused_token(refresh(api_client, body["refresh"]))


def test_deactivation_spends_every_refresh_token(api_client):
    body = register(api_client)
    user = User.objects.get(pk=body["user"]["id"])
    user_set_active(user=user, active=False)
    assert_problem(refresh(api_client, body["refresh"]), 403, "account_disabled")
    user_set_active(user=user, active=True)
    assert_refused_token(refresh(api_client, body["refresh"]))


def test_promotion_to_staff_in_the_admin_spends_every_refresh_token(api_client, admin_client):
    body = register(api_client)
    user = User.objects.get(pk=body["user"]["id"])
    page = admin_client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {
            "email": user.email,
            "name": user.name,
            "is_active": "on",
            "is_staff": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert page.status_code == 302, page.content
    assert User.objects.get(pk=user.pk).is_staff
    assert_refused_token(refresh(api_client, body["refresh"]))


# --- Standalone tokens have our own issuer ------------------------------------------------------------
def test_standalone_tokens_are_refused_when_standalone_mode_is_off(api_client, settings):
    access = register(api_client)["access"]
    assert me(api_client, f"Bearer {access}").status_code == 200
    settings.LOCAL_AUTH_ENABLED = False
    assert_refused_token(me(api_client, f"Bearer {access}"))


def test_a_token_with_our_issuer_is_refused_when_standalone_mode_is_off(api_client, settings):
    settings.LOCAL_AUTH_ENABLED = False
    token = sign_hs256(better_auth_claims("forged", iss=settings.LOCAL_AUTH_ISSUER, aud=...))
    assert_refused_token(me(api_client, f"Bearer {token}"))


def test_standalone_tokens_are_accepted_though_better_auths_issuer_is_pinned(api_client, settings):
    settings.BETTER_AUTH_ISSUER = "https://app.example.com"
    access = register(api_client)["access"]
    assert me(api_client, f"Bearer {access}").status_code == 200


def test_a_better_auth_token_is_not_taken_for_a_standalone_one(api_client, settings):
    # Better Auth's issuer, our secret: it is checked as Better Auth's (BETTER_AUTH_ISSUER), and
    # with standalone mode off it is still accepted as such.
    settings.BETTER_AUTH_ISSUER = "https://app.example.com"
    settings.LOCAL_AUTH_ENABLED = False
    token = sign_hs256(better_auth_claims("baUser", iss="https://app.example.com", aud=...))
    assert me(api_client, f"Bearer {token}").status_code == 200
    wrong = sign_hs256(better_auth_claims("baUser", iss="https://elsewhere.example.com", aud=...))
    assert_refused_token(me(api_client, f"Bearer {wrong}"))


def test_the_default_issuer_is_derived_from_the_site_and_is_not_an_origin(settings):
    assert settings.LOCAL_AUTH_ISSUER.startswith("urn:todo-backend:")


# --- Lifetime bound ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("iat_offset", "exp_offset"),
    [(0, 86401), (-3600, 86400 - 3599), (..., 86400 + 120)],
    ids=["exp-iat-too-long", "issued-an-hour-ago-for-a-day", "no-iat-exp-too-far"],
)
def test_a_token_living_longer_than_the_maximum_is_401(api_client, make_token, iat_offset, exp_offset):
    now = int(time.time())
    iat = ... if iat_offset is ... else now + iat_offset
    assert_refused_token(me(api_client, f"Bearer {make_token('longLived', iat=iat, exp=now + exp_offset)}"))


def test_a_token_of_exactly_the_maximum_lifetime_is_accepted(api_client, make_token):
    now = int(time.time())
    assert me(api_client, f"Bearer {make_token('dayLong', iat=now, exp=now + 86400)}").status_code == 200


def test_the_maximum_lifetime_is_configurable(api_client, make_token, settings):
    settings.JWT_MAX_LIFETIME_SECONDS = 600
    now = int(time.time())
    assert_refused_token(me(api_client, f"Bearer {make_token('short', iat=now, exp=now + 900)}"))


def test_mint_token_refuses_a_ttl_beyond_the_maximum(settings):
    with pytest.raises(CommandError, match="JWT_MAX_LIFETIME_SECONDS"):
        call_command("mint_token", "someone", "--ttl", "86401")
    settings.JWT_MAX_LIFETIME_SECONDS = 3600
    with pytest.raises(CommandError, match="3600"):
        call_command("mint_token", "someone", "--ttl", "7200")
