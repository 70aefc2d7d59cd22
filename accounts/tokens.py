"""Standalone mode: tokens of exactly Better Auth's shape, issued and refreshed with SimpleJWT.

An access token carries the claims Better Auth's `jwt` plugin puts in its tokens (`sub`, `id`,
`email`, `name`, `emailVerified`, `createdAt`, `updatedAt`, `iat`, `exp`, and `iss`/`aud` when
configured), HS256-signed with `BETTER_AUTH_SECRET`, so one authentication class accepts both.
A refresh token is marked `token_type: refresh`, which the authentication class refuses.
"""

from datetime import datetime, timedelta

from django.conf import settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User


def _token_backend(issuer: str | None) -> TokenBackend:
    # Built from the current settings (not SimpleJWT's import-time copy).
    return TokenBackend(
        algorithm="HS256",
        signing_key=settings.BETTER_AUTH_SECRET,
        audience=(settings.BETTER_AUTH_AUDIENCE[0] if settings.BETTER_AUTH_AUDIENCE else None),
        issuer=issuer,
        leeway=settings.JWT_LEEWAY_SECONDS,
    )


class BetterAuthAccessToken(AccessToken):
    """A token exactly as Better Auth would sign it (its issuer): what `mint_token` prints."""

    def get_token_backend(self) -> TokenBackend:
        return _token_backend(settings.BETTER_AUTH_ISSUER or None)


class StandaloneAccessToken(AccessToken):
    """An access token of standalone mode: Better Auth's shape, this backend's own `iss`."""

    def get_token_backend(self) -> TokenBackend:
        return _token_backend(settings.LOCAL_AUTH_ISSUER)


class StandaloneRefreshToken(RefreshToken):
    access_token_class = StandaloneAccessToken

    def get_token_backend(self) -> TokenBackend:
        return _token_backend(settings.LOCAL_AUTH_ISSUER)

    def check_blacklist(self) -> None:
        # Whether the token is spent is decided by accounts.refresh under a row lock, where a spent
        # token is told apart from an invalid one (reuse detection); not here.
        return None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def access_token_for(
    *,
    user_id: str,
    email: str = "",
    name: str = "",
    created_at: datetime | None = None,
    lifetime: timedelta | None = None,
    standalone: bool = False,
) -> AccessToken:
    """An access token of Better Auth's shape: with Better Auth's issuer (`mint_token`, benchmarks),
    or `standalone` with this backend's own (what its sign-in routes and pages hand out)."""
    token = StandaloneAccessToken() if standalone else BetterAuthAccessToken()
    token.set_exp(lifetime=lifetime or timedelta(seconds=settings.ACCESS_TOKEN_LIFETIME_SECONDS))
    # Better Auth's tokens have no token_type or jti; keep the shape identical.
    del token["token_type"]
    del token["jti"]
    created = _iso(created_at or token.current_time)
    token.payload.update(
        {
            "id": user_id,
            "sub": user_id,
            "email": email,
            "emailVerified": False,
            "name": name,
            "createdAt": created,
            "updatedAt": created,
        }
    )
    return token


def standalone_access_for(user: User) -> dict:
    """`access` and `expires_in` of a standalone access token for this user."""
    access = access_token_for(
        user_id=user.pk, email=user.email, name=user.name, created_at=user.date_joined, standalone=True
    )
    return {"access": str(access), "expires_in": settings.ACCESS_TOKEN_LIFETIME_SECONDS}
