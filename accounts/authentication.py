"""Authentication of API requests by the JWTs that Better Auth issues (or standalone mode does).

HS256 tokens are verified with `BETTER_AUTH_SECRET`; EdDSA, ES256 and RS256 tokens against Better
Auth's JWKS when `BETTER_AUTH_JWKS_URL` is set. Each key verifies under one algorithm only.
"""

import re
from typing import Any

import jwt
from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.jwks import JWKSUnavailable, UnknownKey, jwks_cache
from accounts.models import USER_ID_PATTERN, User
from accounts.services import user_sync_from_claims
from todo_project.exceptions import ServiceUnavailable

ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "ES256", "ES512", "RS256", "PS256"})
MAX_TOKEN_LENGTH = 8192
_SUB = re.compile(USER_ID_PATTERN)


class TokenExpired(Exception):
    """The token was valid once; the client should get a new one."""


class InvalidToken(Exception):
    """The token is not one we accept; the reason is safe to show the client."""


def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None when another scheme (or none) is used."""
    header = get_authorization_header(request).split()
    if not header or header[0].lower() != b"bearer":
        return None
    if len(header) != 2:
        raise InvalidToken("The Authorization header must be 'Bearer <token>'.")
    try:
        return header[1].decode("ascii")
    except UnicodeDecodeError:
        raise InvalidToken("The token contains characters a JWT cannot have.") from None


def _verification_key(header: dict[str, Any]) -> tuple[Any, str]:
    """The key and the single algorithm this token may be verified with (no algorithm confusion)."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise InvalidToken("The token's header has no algorithm.")
    if alg == "HS256" and settings.BETTER_AUTH_SECRET:
        return settings.BETTER_AUTH_SECRET.encode(), "HS256"
    if alg in ASYMMETRIC_ALGORITHMS and settings.BETTER_AUTH_JWKS_URL:
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("The token's kid is not a string.")
        try:
            jwk = jwks_cache.key_for(kid)
        except UnknownKey:
            raise InvalidToken("The token was signed with an unknown key.") from None
        except JWKSUnavailable:
            raise ServiceUnavailable("The authentication keys cannot be loaded right now.") from None
        if jwk.algorithm_name != alg:
            raise InvalidToken("The token's algorithm does not match its key.")
        return jwk.key, alg
    raise InvalidToken(f"Tokens signed with {alg!r} are not accepted.")


def verify(raw: str) -> dict[str, Any]:
    """The claims of a valid token; raises TokenExpired or InvalidToken otherwise."""
    if len(raw) > MAX_TOKEN_LENGTH:
        raise InvalidToken("The token is too long.")
    try:
        header = jwt.get_unverified_header(raw)
        key, algorithm = _verification_key(header)
        audience = settings.BETTER_AUTH_AUDIENCE or None
        claims = jwt.decode(
            raw,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=settings.BETTER_AUTH_ISSUER or None,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "sub"], "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired() from None
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as error:
        raise InvalidToken(f"The token is not valid: {error}") from None
    if not isinstance(claims.get("sub"), str) or not _SUB.fullmatch(claims["sub"]):
        raise InvalidToken("The token's sub is not a valid user id.")
    if claims.get("token_type", "access") != "access":
        raise InvalidToken("A refresh token cannot be used to call the API.")
    return claims


class BetterAuthJWTAuthentication(BaseAuthentication):
    """Authorization: Bearer <JWT> issued by Better Auth (HS256 shared secret, or JWKS)."""

    def authenticate(self, request: Request) -> tuple[User, dict[str, Any]] | None:
        try:
            raw = bearer_token(request)
            if raw is None:
                return None  # DRF answers 401 not_authenticated where authentication is required
            claims = verify(raw)
        except TokenExpired:
            raise exceptions.AuthenticationFailed("The token has expired.", code="token_expired") from None
        except InvalidToken as error:
            raise exceptions.AuthenticationFailed(str(error), code="invalid_token") from None
        user = user_sync_from_claims(claims=claims)
        if not user.is_active:
            raise exceptions.PermissionDenied("This account has been disabled.", code="account_disabled")
        return user, claims

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
