"""Standalone-mode sign-in routes and `/api/me/`."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError

from accounts import tokens
from accounts.api.serializers import (
    AccessTokenSerializer,
    MeSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    TokenInputSerializer,
    TokenPairSerializer,
)
from accounts.models import User
from accounts.selectors import password_account_find, user_get
from accounts.services import user_register
from todo_project.schema import ALWAYS, AUTHENTICATED, problems

# What the sign-in routes can answer besides success: a bad body, standalone mode off (404).
SIGN_IN_ERRORS = problems(400, 404, 413, 415, *ALWAYS)


class StandaloneAuthView(APIView):
    """Base of the routes that exist only in standalone mode (`LOCAL_AUTH_ENABLED`)."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_scope = "auth"

    def initial(self, request, *args, **kwargs):
        if not settings.LOCAL_AUTH_ENABLED:
            raise exceptions.NotFound("Sign-in happens in the Better Auth frontend; standalone mode is off.")
        super().initial(request, *args, **kwargs)

    def get_authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class RegisterView(StandaloneAuthView):
    @extend_schema(
        request=RegisterInputSerializer, responses={201: TokenPairSerializer, **SIGN_IN_ERRORS}, tags=["auth"]
    )
    def post(self, request: Request) -> Response:
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_register(**data.validated_data)
        return Response(tokens.token_pair_for(user), status=status.HTTP_201_CREATED)


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
        # Staff passwords are checked only by the admin's login, behind its per-account lockout;
        # answering for them here would let their passwords be guessed around it.
        if user is None or not user.check_password(data.validated_data["password"]) or user.is_staff:
            raise exceptions.AuthenticationFailed("Wrong email or password.", code="invalid_credentials")
        if not user.is_active:
            raise exceptions.PermissionDenied("This account has been disabled.", code="account_disabled")
        return Response(tokens.token_pair_for(user))


class TokenRefreshView(StandaloneAuthView):
    @extend_schema(
        request=RefreshInputSerializer,
        responses={200: AccessTokenSerializer, **SIGN_IN_ERRORS, **problems(401, 403)},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user_id = tokens.user_id_from_refresh(data.validated_data["refresh"])
        except (TokenError, KeyError):
            raise exceptions.AuthenticationFailed(
                "The refresh token is not valid.", code="invalid_token"
            ) from None
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise exceptions.AuthenticationFailed("The refresh token is not valid.", code="invalid_token")
        if not user.is_active:
            raise exceptions.PermissionDenied("This account has been disabled.", code="account_disabled")
        return Response(tokens.access_for(user))


class MeView(APIView):
    @extend_schema(responses={200: MeSerializer, **problems(*AUTHENTICATED)}, tags=["auth"])
    def get(self, request: Request) -> Response:
        # Read afresh, not from the authentication's short-lived cache: this is the user's own record.
        return Response(MeSerializer(user_get(user_id=request.user.pk)).data)
