"""What every app's tests share: real Better Auth-shaped tokens, a client that sends one, and the
problem+json assertion. The root conftest.py turns these into fixtures (make_token, auth_client).

Names say what a helper gives: `mint_token` a signed token, `bearer_client` an authenticated
APIClient, `assert_problem` the checked problem body.
"""

import time
from typing import Any

import jwt
from rest_framework.test import APIClient


def better_auth_claims(sub: str, /, **overrides: Any) -> dict[str, Any]:
    """Claims exactly as Better Auth's jwt plugin builds them (docs/AUTH.md); `...` drops a claim."""
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


def mint_token(sub: str, /, **overrides: Any) -> str:
    """A real HS256 token of Better Auth's shape for `sub`, signed with BETTER_AUTH_SECRET."""
    return sign_hs256(better_auth_claims(sub, **overrides))


def bearer_client(user) -> APIClient:
    """An APIClient that sends `user`'s real, signed Bearer token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_token(user.pk, email=user.email, name=user.name)}")
    return client


def assert_problem(response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem of docs/API.md §2 with this status and code; with
    `field`, its `errors` name that field."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["code"] == code, body
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["request_id"] == response["X-Request-ID"]
    # `errors` appears exactly for validation failures.
    assert ("errors" in body) == (code == "validation_error"), body
    if field is not None:
        assert body["errors"].get(field), body
        assert all(isinstance(message, str) and message for message in body["errors"][field])
    return body
