"""Standalone mode: register, sign in and refresh with this backend's own tokens."""

import time

import jwt
import pytest

from accounts.models import User
from accounts.tests.helpers import assert_refused_token, me
from core.tests.support import assert_problem, sign_hs256

pytestmark = pytest.mark.django_db

REGISTER = "/api/auth/register/"
TOKEN = "/api/auth/token/"
REFRESH = "/api/auth/token/refresh/"
PASSWORD = "correct horse battery staple 42"


def register(client, email="alice@example.com", password=PASSWORD, name="Alice Example"):
    return client.post(REGISTER, {"email": email, "password": password, "name": name}, format="json")


def login(client, email="alice@example.com", password=PASSWORD):
    return client.post(TOKEN, {"email": email, "password": password}, format="json")


def decode(token: str, settings) -> dict:
    return jwt.decode(
        token, settings.BETTER_AUTH_SECRET.encode(), algorithms=["HS256"], options={"verify_aud": False}
    )


# --- Register -----------------------------------------------------------------------------------
def test_register_returns_201_with_a_token_pair(api_client, settings):
    response = register(api_client)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.ACCESS_TOKEN_LIFETIME_SECONDS
    assert set(body["user"]) == {"id", "email", "name"}
    assert body["user"]["email"] == "alice@example.com"
    assert body["user"]["name"] == "Alice Example"
    user = User.objects.get(pk=body["user"]["id"])
    assert len(user.pk) == 32 and user.pk.isalnum()
    assert user.password.startswith("argon2")
    assert user.check_password(PASSWORD)


def test_registered_access_token_has_better_auths_shape(api_client, settings):
    body = register(api_client).json()
    assert jwt.get_unverified_header(body["access"]) == {"alg": "HS256", "typ": "JWT"}
    claims = decode(body["access"], settings)
    user_id = body["user"]["id"]
    assert set(claims) == {
        "iat",
        "exp",
        "sub",
        "id",
        "email",
        "emailVerified",
        "name",
        "createdAt",
        "updatedAt",
        "iss",
    }
    assert claims["iss"] == settings.LOCAL_AUTH_ISSUER
    assert (claims["sub"], claims["id"], claims["email"], claims["name"]) == (
        user_id,
        user_id,
        "alice@example.com",
        "Alice Example",
    )
    assert claims["exp"] - claims["iat"] == settings.ACCESS_TOKEN_LIFETIME_SECONDS
    assert claims["createdAt"].endswith("Z")


def test_registered_tokens_are_accepted_by_the_api(api_client):
    body = register(api_client).json()
    response = me(api_client, f"Bearer {body['access']}")
    assert response.status_code == 200
    assert response.json()["id"] == body["user"]["id"]


def test_issued_tokens_carry_our_own_issuer_and_the_configured_audience(api_client, settings):
    settings.BETTER_AUTH_ISSUER = "https://app.example.com"
    settings.LOCAL_AUTH_ISSUER = "https://api.example.com"
    settings.BETTER_AUTH_AUDIENCE = ["https://app.example.com", "https://admin.example.com"]
    body = register(api_client).json()
    claims = decode(body["access"], settings)
    assert claims["iss"] == "https://api.example.com"
    assert decode(body["refresh"], settings)["iss"] == "https://api.example.com"
    assert claims["aud"] == "https://app.example.com"
    assert me(api_client, f"Bearer {body['access']}").status_code == 200
    assert api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json").status_code == 200


@pytest.mark.parametrize("email", ["alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com"])
def test_duplicate_email_is_400_on_email_case_insensitively(api_client, email):
    assert register(api_client).status_code == 201
    response = register(api_client, email=email)
    body = assert_problem(response, 400, "validation_error")
    assert list(body["errors"]) == ["email"]
    assert User.objects.count() == 1


def test_email_of_a_better_auth_user_can_still_register_a_password_account(api_client, make_token):
    # A provisioned user has no password; `sub` is the identity, not the email.
    assert me(api_client, f"Bearer {make_token('baUser', email='alice@example.com')}").status_code == 200
    assert register(api_client).status_code == 201
    assert User.objects.filter(email="alice@example.com").count() == 2


@pytest.mark.parametrize(
    "password",
    ["short", "password", "12345678901234", "alice@example.com"],
    ids=["too-short", "common", "numeric", "similar-to-email"],
)
def test_weak_password_is_400_on_password(api_client, password):
    body = assert_problem(register(api_client, password=password), 400, "validation_error")
    assert list(body["errors"]) == ["password"]
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": ""}, "password"),
        ({"email": "a@example.com", "password": PASSWORD, "name": "n" * 256}, "name"),
        ({"email": "a\x00@example.com", "password": PASSWORD}, "email"),
    ],
)
def test_invalid_registration_is_400_naming_the_field(api_client, payload, field):
    body = assert_problem(api_client.post(REGISTER, payload, format="json"), 400, "validation_error")
    assert field in body["errors"]


def test_registration_body_that_is_not_an_object_is_400(api_client):
    body = assert_problem(api_client.post(REGISTER, [1, 2], format="json"), 400, "validation_error")
    assert "non_field_errors" in body["errors"]


# --- Sign in ------------------------------------------------------------------------------------
def test_login_returns_a_working_token_pair(api_client):
    user_id = register(api_client).json()["user"]["id"]
    response = login(api_client, email="ALICE@example.COM")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"id": user_id, "email": "alice@example.com", "name": "Alice Example"}
    assert body["token_type"] == "Bearer"
    assert me(api_client, f"Bearer {body['access']}").json()["id"] == user_id


@pytest.mark.parametrize(
    ("email", "password"),
    [("alice@example.com", "wrong password entirely"), ("nobody@example.com", PASSWORD), ("alice", PASSWORD)],
    ids=["wrong-password", "unknown-email", "not-an-email"],
)
def test_wrong_email_or_password_is_401_invalid_credentials(api_client, email, password):
    register(api_client)
    response = login(api_client, email=email, password=password)
    body = assert_problem(response, 401, "invalid_credentials")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "access" not in body


def test_better_auth_user_cannot_sign_in_with_a_password(api_client, make_token):
    me(api_client, f"Bearer {make_token('baOnly', email='ba@example.com')}")
    assert_problem(login(api_client, email="ba@example.com", password=""), 400, "validation_error")
    assert_problem(login(api_client, email="ba@example.com", password="anything"), 401, "invalid_credentials")
    assert_problem(login(api_client, email="baOnly", password="anything"), 401, "invalid_credentials")


def test_deactivated_password_account_cannot_sign_in(api_client):
    user_id = register(api_client).json()["user"]["id"]
    User.objects.filter(pk=user_id).update(is_active=False)
    assert_problem(login(api_client), 403, "account_disabled")


# --- Refresh ------------------------------------------------------------------------------------
def test_refresh_returns_a_new_working_access_token(api_client, settings):
    body = register(api_client).json()
    response = api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json")
    assert response.status_code == 200
    refreshed = response.json()
    assert set(refreshed) == {"access", "refresh", "expires_in"}
    assert refreshed["refresh"] != body["refresh"]
    assert refreshed["expires_in"] == settings.ACCESS_TOKEN_LIFETIME_SECONDS
    assert me(api_client, f"Bearer {refreshed['access']}").json()["id"] == body["user"]["id"]


@pytest.mark.parametrize("payload", [{}, {"refresh": ""}, {"refresh": "   "}, {"refresh": None}])
def test_missing_or_blank_refresh_is_400_on_refresh(api_client, payload):
    body = assert_problem(api_client.post(REFRESH, payload, format="json"), 400, "validation_error")
    assert list(body["errors"]) == ["refresh"]


def test_invalid_refresh_tokens_are_401_invalid_token(api_client, settings, make_token):
    body = register(api_client).json()
    claims = decode(body["refresh"], settings)
    now = int(time.time())
    forged = sign_hs256(claims, secret="not-the-secret-but-just-as-long-0123456789")
    expired = sign_hs256({**claims, "iat": now - 100000, "exp": now - 1000})
    for refresh in [
        "garbage",
        "a.b.c",
        body["access"],
        make_token(body["user"]["id"]),
        forged,
        expired,
        "x" * 5000,
    ]:
        response = api_client.post(REFRESH, {"refresh": refresh}, format="json")
        assert_problem(response, 401, "invalid_token")
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_refresh_for_a_deleted_user_is_401(api_client):
    body = register(api_client).json()
    User.objects.filter(pk=body["user"]["id"]).delete()
    assert_problem(
        api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json"), 401, "invalid_token"
    )


def test_refresh_for_a_deactivated_user_is_403(api_client):
    body = register(api_client).json()
    User.objects.filter(pk=body["user"]["id"]).update(is_active=False)
    response = api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json")
    assert_problem(response, 403, "account_disabled")


def test_refresh_token_is_refused_as_an_access_token(api_client):
    assert_refused_token(me(api_client, f"Bearer {register(api_client).json()['refresh']}"))


def test_auth_routes_ignore_a_bad_bearer_token(api_client):
    # Signing in must work even while the client still holds an expired or broken token.
    api_client.credentials(HTTP_AUTHORIZATION="Bearer broken")
    assert register(api_client).status_code == 201
    assert login(api_client).status_code == 200


# --- Standalone mode off ---------------------------------------------------------------------
@pytest.mark.parametrize("path", [REGISTER, TOKEN, REFRESH, REGISTER.rstrip("/"), TOKEN.rstrip("/")])
def test_local_auth_disabled_makes_the_routes_404(api_client, settings, path):
    settings.LOCAL_AUTH_ENABLED = False
    response = api_client.post(path, {"email": "a@example.com", "password": PASSWORD}, format="json")
    assert_problem(response, 404, "not_found")
    assert User.objects.count() == 0


def test_local_auth_disabled_still_accepts_better_auth_tokens(api_client, settings, make_token):
    settings.LOCAL_AUTH_ENABLED = False
    assert me(api_client, f"Bearer {make_token('stillFine')}").status_code == 200


# --- Email changes that collide --------------------------------------------------------------------
def test_token_email_that_another_password_account_has_is_not_a_500(api_client, make_token):
    # Two password accounts; a token for the second carries the first one's email (a frontend
    # where the user changed their email). The email stays unique among password accounts.
    first = register(api_client, email="first@example.com").json()["user"]["id"]
    second = register(api_client, email="second@example.com").json()["user"]["id"]
    response = me(api_client, f"Bearer {make_token(second, email='FIRST@example.com', name='New Name')}")
    assert response.status_code == 200
    assert User.objects.get(pk=first).email == "first@example.com"
    assert User.objects.get(pk=second).email == "second@example.com"
    assert User.objects.get(pk=second).name == "New Name"


def test_staff_account_cannot_sign_in_through_the_api(api_client, db):
    """The admin's login, with its lockout, is the only place a staff password is checked."""
    from accounts.models import User

    User.objects.create_user(email="staff@example.com", password="correct horse battery", is_staff=True)
    response = api_client.post(
        "/api/auth/token/", {"email": "staff@example.com", "password": "correct horse battery"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
