"""Standalone-mode sign-in routes and `/api/me/`."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import login_throttle
from accounts.api.serializers import (
    MeSerializer,
    RefreshedPairSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    RevokeInputSerializer,
    TokenInputSerializer,
    TokenPairSerializer,
)
from accounts.authentication import BetterAuthJWTAuthentication
from accounts.refresh import (
    InvalidRefreshToken,
    RefreshAccountDisabled,
    refresh_token_revoke,
    refresh_token_rotate,
    refresh_tokens_revoke_all,
    token_pair_for,
)
from accounts.selectors import password_account_find, user_get
from accounts.services import user_register
from core.http_errors import BEARER_CHALLENGE
from core.schema import ALWAYS, AUTHENTICATED, problems
from core.throttling import AddressScopedRateThrottle, client_address

# What the sign-in routes can answer besides success: a bad body, standalone mode off (404).
SIGN_IN_ERRORS = problems(400, 404, 413, 415, *ALWAYS)


class AccountThrottled(exceptions.Throttled):
    """Too many failed sign-ins for one account (accounts.login_throttle): 429 with Retry-After."""

    def __init__(self, wait: int) -> None:
        super().__init__(
            wait, detail=f"Too many failed sign-ins for this account. Try again in {wait} seconds."
        )


class StandaloneAuthView(APIView):
    """Base of the routes that exist only in standalone mode (`LOCAL_AUTH_ENABLED`)."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_scope = login_throttle.SIGN_IN_SCOPE

    def initial(self, request, *args, **kwargs):
        if not settings.LOCAL_AUTH_ENABLED:
            raise exceptions.NotFound("Sign-in happens in the Better Auth frontend; standalone mode is off.")
        super().initial(request, *args, **kwargs)

    def get_authenticate_header(self, request) -> str:
        return BEARER_CHALLENGE


class RegisterView(StandaloneAuthView):
    @extend_schema(
        request=RegisterInputSerializer, responses={201: TokenPairSerializer, **SIGN_IN_ERRORS}, tags=["auth"]
    )
    def post(self, request: Request) -> Response:
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_register(**data.validated_data)
        return Response(token_pair_for(user), status=status.HTTP_201_CREATED)


class TokenView(StandaloneAuthView):
    @extend_schema(
        request=TokenInputSerializer,
        responses={200: TokenPairSerializer, **SIGN_IN_ERRORS, **problems(401, 403)},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = password_account_find(login=data.validated_data["email"])
        account = login_throttle.account_key(login=data.validated_data["email"], user=user)
        address = client_address(request)
        wait = login_throttle.sign_in_wait(account=account, address=address)
        if wait is not None:
            raise AccountThrottled(wait)
        # Staff passwords are checked only by the admin's login, behind its per-account lockout;
        # answering for them here would let their passwords be guessed around it.
        if user is None or not user.check_password(data.validated_data["password"]) or user.is_staff:
            login_throttle.sign_in_failed(account=account, address=address)
            raise exceptions.AuthenticationFailed("Wrong email or password.", code="invalid_credentials")
        login_throttle.sign_in_succeeded(account=account, address=address)
        if not user.is_active:
            raise exceptions.PermissionDenied("This account has been disabled.", code="account_disabled")
        return Response(token_pair_for(user))


class TokenRefreshView(StandaloneAuthView):
    @extend_schema(
        request=RefreshInputSerializer,
        responses={200: RefreshedPairSerializer, **SIGN_IN_ERRORS, **problems(401, 403)},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            return Response(refresh_token_rotate(raw=data.validated_data["refresh"]))
        except InvalidRefreshToken as error:
            raise exceptions.AuthenticationFailed(str(error), code="invalid_token") from None
        except RefreshAccountDisabled:
            raise exceptions.PermissionDenied(
                "This account has been disabled.", code="account_disabled"
            ) from None


class TokenRevokeView(StandaloneAuthView):
    """Sign-out: `{"refresh"}` spends that refresh token; `{"all": true}` with a Bearer token spends
    every refresh token of the caller."""

    authentication_classes = [BetterAuthJWTAuthentication]
    # Only the per-address limit: the per-user one would authenticate every request, and a token
    # is needed (and checked) only for `all`.
    throttle_classes = [AddressScopedRateThrottle]

    def perform_authentication(self, request: Request) -> None:
        pass  # lazily, in post(): a refresh token in the body needs no Bearer token

    @extend_schema(
        request=RevokeInputSerializer,
        responses={204: None, **SIGN_IN_ERRORS, **problems(401, 403)},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = RevokeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data.get("all"):
            if request.user is None:
                raise exceptions.NotAuthenticated("Signing out everywhere needs the Bearer token.")
            refresh_tokens_revoke_all(user=request.user)
        else:
            try:
                refresh_token_revoke(raw=data.validated_data["refresh"])
            except InvalidRefreshToken as error:
                raise exceptions.AuthenticationFailed(str(error), code="invalid_token") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: MeSerializer, **problems(*AUTHENTICATED)}, tags=["auth"])
    def get(self, request: Request) -> Response:
        # Read afresh, not from the authentication's short-lived cache: this is the user's own record.
        return Response(MeSerializer(user_get(user_id=request.user.pk)).data)
