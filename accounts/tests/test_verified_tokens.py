"""A token verified once is remembered by the process (issue 11), but never past its `exp`, never
across a change of settings, and never for JWKS keys (a dropped key must stop working at once)."""

import time

import pytest

from accounts.authentication import verified_tokens
from core.tests.support import assert_problem
from todo_project.tests.deploy_support import wait_until

pytestmark = pytest.mark.django_db


def me(client, token):
    return client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_remembered_token_still_expires_on_time(api_client, user, make_token, settings):
    settings.JWT_LEEWAY_SECONDS = 0
    token = make_token(user.pk, email=user.email, name=user.name, exp=int(time.time()) + 2)
    assert me(api_client, token).status_code == 200
    assert token in verified_tokens._entries

    wait_until(lambda: me(api_client, token).status_code == 401, timeout=10, message="the token to expire")

    assert_problem(me(api_client, token), 401, "token_expired")


def test_changing_the_shared_secret_forgets_every_remembered_token(api_client, user, make_token, settings):
    token = make_token(user.pk, email=user.email, name=user.name)
    assert me(api_client, token).status_code == 200

    settings.BETTER_AUTH_SECRET = "another-shared-secret-of-at-least-32-characters"

    assert_problem(me(api_client, token), 401, "invalid_token")


def test_a_forged_token_is_never_remembered(api_client, user, make_token):
    forged = make_token(user.pk)[:-4] + "AAAA"

    assert me(api_client, forged).status_code == 401
    assert forged not in verified_tokens._entries
