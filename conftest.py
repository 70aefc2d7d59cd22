"""Fixtures shared by every app's tests: users, real signed tokens, API clients (helpers in
core/tests/support.py)."""

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from core.tests.support import bearer_client, mint_token


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


@pytest.fixture
def make_token():
    """make_token(sub, **claim_overrides) -> a real HS256 token of Better Auth's shape."""

    return mint_token


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def auth_header(user):
    return {"HTTP_AUTHORIZATION": f"Bearer {mint_token(user.pk, email=user.email, name=user.name)}"}


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def auth_client(user):
    """An APIClient sending the fixture user's real Bearer token."""
    return bearer_client(user)
