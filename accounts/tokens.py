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


def _token_backend() -> TokenBackend:
    # Built from the current settings (not SimpleJWT's import-time copy).
    return TokenBackend(
        algorithm="HS256",
        signing_key=settings.BETTER_AUTH_SECRET,
        audience=(settings.BETTER_AUTH_AUDIENCE[0] if settings.BETTER_AUTH_AUDIENCE else None),
        issuer=settings.BETTER_AUTH_ISSUER or None,
        leeway=settings.JWT_LEEWAY_SECONDS,
    )


class BetterAuthAccessToken(AccessToken):
    def get_token_backend(self) -> TokenBackend:
        return _token_backend()


class StandaloneRefreshToken(RefreshToken):
    access_token_class = BetterAuthAccessToken

    def get_token_backend(self) -> TokenBackend:
        return _token_backend()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def access_token_for(
    *,
    user_id: str,
    email: str = "",
    name: str = "",
    created_at: datetime | None = None,
    lifetime: timedelta | None = None,
) -> BetterAuthAccessToken:
    token = BetterAuthAccessToken()
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


def token_pair_for(user: User) -> dict:
    """The body of `POST /api/auth/token/` and `/register/`."""
    refresh = StandaloneRefreshToken()
    refresh["sub"] = user.pk
    access = access_token_for(user_id=user.pk, email=user.email, name=user.name, created_at=user.date_joined)
    return {
        "access": str(access),
        "refresh": str(refresh),
        "token_type": "Bearer",
        "expires_in": settings.ACCESS_TOKEN_LIFETIME_SECONDS,
        "user": {"id": user.pk, "email": user.email, "name": user.name},
    }


def user_id_from_refresh(raw: str) -> str:
    """The user id a refresh token was issued to; raises SimpleJWT's TokenError when invalid."""
    return StandaloneRefreshToken(raw)["sub"]


def access_for(user: User) -> dict:
    """The body of `POST /api/auth/token/refresh/`."""
    access = access_token_for(user_id=user.pk, email=user.email, name=user.name, created_at=user.date_joined)
    return {"access": str(access), "expires_in": settings.ACCESS_TOKEN_LIFETIME_SECONDS}
