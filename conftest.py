"""Fixtures shared by every app's tests: users, real signed tokens, API clients."""

import time
from typing import Any

import jwt
import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Tests render admin pages without running collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test starts with empty caches (throttle counters, cached JWKS keys, authenticated users)."""
    from django.core.cache import cache

    from accounts.authentication import verified_tokens
    from accounts.jwks import jwks_cache
    from accounts.user_cache import user_cache

    cache.clear()
    jwks_cache.clear()
    user_cache.clear()
    verified_tokens.clear()
    yield
    cache.clear()
    user_cache.clear()


def better_auth_claims(sub: str, /, **overrides: Any) -> dict[str, Any]:
    """Claims exactly as Better Auth's jwt plugin builds them (docs/AUTH.md)."""
    now = int(time.time())
    claims = {
        "iat": now,
        "id": sub,
        "createdAt": "2026-11-29T11:13:48.368Z",
        "updatedAt": "2026-11-29T11:13:48.368Z",
        "email": f"{sub.lower()[:20]}@example.com",
        "emailVerified": False,
        "name": "Alice Example",
        "sub": sub,
        "exp": now + 900,
        "iss": "http://localhost:3000",
        "aud": "http://localhost:3000",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not ...}


def sign_hs256(claims: dict[str, Any], secret: str | None = None, headers: dict | None = None) -> str:
    from django.conf import settings

    return jwt.encode(claims, (secret or settings.BETTER_AUTH_SECRET).encode(), "HS256", headers=headers)


@pytest.fixture
def make_token():
    """make_token(sub, **claim_overrides) -> a real HS256 token of Better Auth's shape."""

    def make(sub: str, /, **overrides: Any) -> str:
        return sign_hs256(better_auth_claims(sub, **overrides))

    return make


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def auth_header(user, make_token):
    return {"HTTP_AUTHORIZATION": f"Bearer {make_token(user.pk, email=user.email, name=user.name)}"}


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def auth_client(user, make_token):
    """An APIClient sending the fixture user's real Bearer token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(user.pk, email=user.email, name=user.name)}")
    return client
