"""Standalone refresh tokens: issued, rotated, revoked (SimpleJWT's blacklist app stores them).

Every refresh token issued is an `OutstandingToken`; a spent one (rotated or revoked) also has a
`BlacklistedToken`. Refreshing spends the token sent and issues a new pair, under a row lock on the
token, so two concurrent refreshes of one token cannot both win. Presenting a spent token again is
reuse: the token was copied, so every refresh token of its user is spent (reuse detection).

A refresh token also carries `cred`, a keyed hash of the user's password hash and staff flag: a
password change or a promotion to staff, by whatever path (admin, `changepassword`, a shell), makes
every older refresh token of that user count as spent, and presenting one spends them all.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.models import User
from accounts.tokens import StandaloneRefreshToken, standalone_access_for

_CREDENTIAL_SALT = "accounts.refresh.credential"


class InvalidRefreshToken(Exception):
    """Not a refresh token we issued and still honour; the reason is safe to show the client."""


class RefreshAccountDisabled(Exception):
    """The token is fine but its user has been deactivated."""


def _credential_mark(user: User) -> str:
    value = f"{user.password}|{int(user.is_staff)}"
    return salted_hmac(_CREDENTIAL_SALT, value, algorithm="sha256").hexdigest()[:32]


def _parse(raw: str) -> StandaloneRefreshToken:
    """The signed, unexpired refresh token `raw` (whether it is spent is checked by the caller)."""
    try:
        token = StandaloneRefreshToken(raw)
    except TokenError:
        raise InvalidRefreshToken("The refresh token is not valid.") from None
    if not isinstance(token.get("sub"), str) or not isinstance(token.get("jti"), str):
        raise InvalidRefreshToken("The refresh token is not valid.")
    return token


def token_pair_for(user: User) -> dict[str, Any]:
    """The body of `POST /api/auth/token/` and `/register/`: a new access token and a new refresh
    token, recorded as outstanding."""
    refresh = StandaloneRefreshToken()
    refresh["sub"] = user.pk
    refresh["cred"] = _credential_mark(user)
    OutstandingToken.objects.create(
        user=user,
        jti=refresh["jti"],
        token=str(refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return {
        **standalone_access_for(user),
        "refresh": str(refresh),
        "token_type": "Bearer",
        "user": {"id": user.pk, "email": user.email, "name": user.name},
    }


def refresh_tokens_revoke_all(*, user: User) -> int:
    """Spend every live refresh token of this user; the number spent."""
    live = list(
        OutstandingToken.objects.filter(
            user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
        ).values_list("pk", flat=True)
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=pk) for pk in live], ignore_conflicts=True
    )
    return len(live)


def refresh_token_rotate(*, raw: str) -> dict[str, Any]:
    """Spend `raw` and return the body of `POST /api/auth/token/refresh/` (a new pair).

    Raises InvalidRefreshToken (after spending the whole family when `raw` was spent already, or
    issued before the user's password or staff flag changed) or RefreshAccountDisabled.
    """
    token = _parse(raw)
    with transaction.atomic():
        # The lock serialises concurrent refreshes of one token: the second sees it spent.
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=token["jti"]).first()
        user = User.objects.filter(pk=token["sub"]).first()
        if outstanding is None or user is None or outstanding.user_id != user.pk:
            raise InvalidRefreshToken("The refresh token is not valid.")
        if not user.is_active:
            raise RefreshAccountDisabled()
        spent = BlacklistedToken.objects.filter(token=outstanding).exists()
        if spent or token.get("cred") != _credential_mark(user):
            refresh_tokens_revoke_all(user=user)
            reused = True
        else:
            BlacklistedToken.objects.create(token=outstanding)
            reused = False
            body = token_pair_for(user)
    if reused:  # raised outside the transaction, which must commit the revocation
        raise InvalidRefreshToken("The refresh token has been used already; sign in again.")
    return {key: body[key] for key in ("access", "refresh", "expires_in")}


@transaction.atomic
def refresh_token_revoke(*, raw: str) -> None:
    """Spend one refresh token (sign-out). Spending a spent token again changes nothing."""
    token = _parse(raw)
    outstanding = OutstandingToken.objects.filter(jti=token["jti"]).first()
    if outstanding is None:
        raise InvalidRefreshToken("The refresh token is not valid.")
    BlacklistedToken.objects.get_or_create(token=outstanding)
