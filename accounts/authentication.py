"""Authentication of API requests by the JWTs that Better Auth issues (or standalone mode does).

HS256 tokens are verified with `BETTER_AUTH_SECRET`; EdDSA, ES256 and RS256 tokens against Better
Auth's JWKS when `BETTER_AUTH_JWKS_URL` is set. Each key verifies under one algorithm only.
"""

import json
import re
import time
from typing import Any

import jwt
from django.conf import settings
from django.core.signals import setting_changed
from jwt.utils import base64url_decode
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.jwks import JWKSUnavailable, UnknownKey, jwks_cache
from accounts.models import USER_ID_PATTERN, User
from accounts.services import user_sync_from_claims
from accounts.user_cache import user_cache
from core.http_errors import BEARER_CHALLENGE, ServiceUnavailable

ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "ES256", "ES512", "RS256", "PS256"})
MAX_TOKEN_LENGTH = 8192
_SUB = re.compile(USER_ID_PATTERN)
# RFC 6750 §2.1: "Bearer" 1*SP b64token. Spaces and tabs at the ends are not part of a header value
# (RFC 9110 §5.5); other white space around or inside the token is refused, never repaired.
_BEARER = re.compile(rb"bearer +([A-Za-z0-9._~+/-]+=*)", re.IGNORECASE)
# 9999-12-31T23:59:59Z: NumericDates beyond it (or before 1970) are not dates a token can mean.
_MAX_NUMERIC_DATE = 253402300799


class TokenExpired(Exception):
    """The token was valid once; the client should get a new one."""


class InvalidToken(Exception):
    """The token is not one we accept; the reason is safe to show the client."""


def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None when another scheme (or none) is used."""
    header = get_authorization_header(request)
    words = header.split()
    if not words or words[0].lower() != b"bearer":
        return None
    match = _BEARER.fullmatch(header.strip(b" \t"))
    if match is None:
        raise InvalidToken("The Authorization header must be 'Bearer <token>'.")
    return match.group(1).decode("ascii")


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


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise InvalidToken("The token names a header parameter or claim twice.")
    return dict(pairs)


def _check_shape(raw: str) -> dict[str, Any]:
    """Refuse what PyJWT would read leniently: a header or claim named twice (RFC 7519 §4; parsers
    disagree on which one wins) and NumericDates that are strings, booleans or out of range (PyJWT
    would take "1795951728" or True through int())."""
    header_segment, claims_segment = raw.split(".")[:2]
    json.loads(base64url_decode(header_segment), object_pairs_hook=_unique_members)
    claims = json.loads(base64url_decode(claims_segment), object_pairs_hook=_unique_members)
    if not isinstance(claims, dict):
        raise InvalidToken("The token's claims are not a JSON object.")
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if name in claims and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= _MAX_NUMERIC_DATE
        ):
            raise InvalidToken(f"The token's {name} is not a date (seconds since 1970, as a number).")
    return claims


def _check_lifetime(claims: dict[str, Any]) -> None:
    """Refuse a token meant to live longer than JWT_MAX_LIFETIME_SECONDS, whoever signed it: a stolen
    long-lived token cannot be revoked, so none is accepted."""
    start = claims.get("iat")
    if start is None:
        start = time.time()
    if claims["exp"] - start > settings.JWT_MAX_LIFETIME_SECONDS:
        raise InvalidToken(f"The token lives longer than {settings.JWT_MAX_LIFETIME_SECONDS} seconds.")


def verify(raw: str) -> dict[str, Any]:
    """The claims of a valid token; raises TokenExpired or InvalidToken otherwise."""
    if len(raw) > MAX_TOKEN_LENGTH:
        raise InvalidToken("The token is too long.")
    try:
        header = jwt.get_unverified_header(raw)
        unverified = _check_shape(raw)
        key, algorithm = _verification_key(header)
        # Our own issuer marks a standalone token (HS256 only); any other is Better Auth's, checked
        # against BETTER_AUTH_ISSUER when that is set. Neither passes for the other.
        standalone = algorithm == "HS256" and unverified.get("iss") == settings.LOCAL_AUTH_ISSUER
        issuer = settings.LOCAL_AUTH_ISSUER if standalone else (settings.BETTER_AUTH_ISSUER or None)
        audience = settings.BETTER_AUTH_AUDIENCE or None
        claims = jwt.decode(
            raw,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "sub"], "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired() from None
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError) as error:
        raise InvalidToken(f"The token is not valid: {error}") from None
    if standalone and not settings.LOCAL_AUTH_ENABLED:
        raise InvalidToken("Tokens of this backend's standalone mode are not accepted: it is off.")
    if not standalone and claims.get("iss") == settings.LOCAL_AUTH_ISSUER:
        raise InvalidToken("The token names this backend as its issuer but was not issued by it.")
    _check_lifetime(claims)
    if not isinstance(claims.get("sub"), str) or not _SUB.fullmatch(claims["sub"]):
        raise InvalidToken("The token's sub is not a valid user id.")
    if claims.get("token_type", "access") != "access":
        raise InvalidToken("A refresh token cannot be used to call the API.")
    return claims


class VerifiedTokens:
    """Per-process memory of tokens already verified, so a client's every call does not pay for
    parsing and checking the same token again (most of an authenticated request's CPU otherwise).

    An entry is kept at most `MAX_AGE` seconds and never past the token's `exp` (plus leeway); it
    holds the claims of a token that passed `verify` in full. Only HS256 tokens are kept: their key
    changes only with the settings (and changing any setting forgets all), while a key dropped from
    Better Auth's JWKS must stop verifying its tokens as soon as the document is fetched again.
    """

    MAX_AGE = 60
    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}

    def verify(self, raw: str) -> dict[str, Any]:
        now = time.time()
        entry = self._entries.get(raw)
        if entry is not None and entry[0] > now:
            return entry[1]
        claims = verify(raw)
        if _algorithm_of(raw) == "HS256":
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            expires = min(claims["exp"] + settings.JWT_LEEWAY_SECONDS, now + self.MAX_AGE)
            self._entries[raw] = (expires, claims)
        return claims

    def clear(self, **kwargs) -> None:
        self._entries.clear()


def _algorithm_of(raw: str) -> Any:
    """The `alg` of a token that has just passed `verify` (so its header is well-formed JSON)."""
    return json.loads(base64url_decode(raw.split(".", 1)[0])).get("alg")


verified_tokens = VerifiedTokens()
setting_changed.connect(verified_tokens.clear, dispatch_uid="verified-tokens")


class BetterAuthJWTAuthentication(BaseAuthentication):
    """Authorization: Bearer <JWT> issued by Better Auth (HS256 shared secret, or JWKS)."""

    def authenticate(self, request: Request) -> tuple[User, dict[str, Any]] | None:
        try:
            raw = bearer_token(request)
            if raw is None:
                return None  # DRF answers 401 not_authenticated where authentication is required
            claims = verified_tokens.verify(raw)
        except TokenExpired:
            raise exceptions.AuthenticationFailed("The token has expired.", code="token_expired") from None
        except InvalidToken as error:
            raise exceptions.AuthenticationFailed(str(error), code="invalid_token") from None
        email, name = claims.get("email"), claims.get("name")
        user = user_cache.get(claims["sub"], email, name)
        if user is None:
            user = user_sync_from_claims(claims=claims)
            user_cache.put(user, email, name)
        if not user.is_active:
            raise exceptions.PermissionDenied("This account has been disabled.", code="account_disabled")
        return user, claims

    def authenticate_header(self, request: Request) -> str:
        return BEARER_CHALLENGE
