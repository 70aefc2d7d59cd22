"""The Web Push routes (docs/API.md §7): the server's public key, and the caller's subscriptions."""

import logging

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsUrlUser
from core.schema import ALWAYS, AUTHENTICATED, problems
from notifications import selectors, services
from notifications.api.serializers import (
    PublicKeySerializer,
    PushSubscriptionSerializer,
    PushSubscriptionWriteSerializer,
    subscription_to_dict,
)
from notifications.errors import SubscriptionLimitReached
from notifications.vapid import VapidNotConfigured, vapid_keys
from tasks.api.views import USER_ID_PARAMETER

logger = logging.getLogger(__name__)


class PushUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Web Push is not configured on this server (no VAPID key)."
    default_code = "service_unavailable"


class PublicKeyView(APIView):
    """`GET /api/push/public-key/`: the `applicationServerKey` for `pushManager.subscribe()`."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        operation_id="push_public_key",
        auth=[],
        responses={200: PublicKeySerializer, **problems(*ALWAYS)},
        description="No token needed. 503 `service_unavailable` when the server has no VAPID key.",
    )
    def get(self, request: Request) -> Response:
        try:
            keys = vapid_keys()
        except VapidNotConfigured as exc:
            logger.error("GET /api/push/public-key/ answered 503: %s", exc)
            raise PushUnavailable() from None
        return Response({"public_key": keys.public_key}, headers={"Cache-Control": "public, max-age=3600"})


@extend_schema(parameters=[USER_ID_PARAMETER], tags=["push-subscriptions"])
class PushSubscriptionViewSet(viewsets.ViewSet):
    """`/api/{user_id}/push-subscriptions/`: the browsers that receive the caller's reminders."""

    permission_classes = [IsAuthenticated, IsUrlUser]
    lookup_value_regex = r"[0-9]{1,18}"  # larger ids cannot exist (bigint); they are 404, not 500

    @extend_schema(responses={200: PushSubscriptionSerializer(many=True), **problems(*AUTHENTICATED)})
    def list(self, request: Request, user_id: str) -> Response:
        return Response(
            PushSubscriptionSerializer(selectors.push_subscription_list(user=request.user), many=True).data
        )

    @extend_schema(
        request=PushSubscriptionWriteSerializer,
        responses={
            201: PushSubscriptionSerializer,
            200: OpenApiResponse(PushSubscriptionSerializer, description="The same endpoint: keys updated."),
            **problems(400, *AUTHENTICATED),
        },
        description="At most 20 per user: the 21st is `400 validation_error` keyed `endpoint`.",
    )
    def create(self, request: Request, user_id: str) -> Response:
        serializer = PushSubscriptionWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            subscription, created = services.push_subscription_save(
                user=request.user,
                endpoint=data["endpoint"],
                p256dh=data["keys"]["p256dh"],
                auth=data["keys"]["auth"],
            )
        except SubscriptionLimitReached as exc:
            raise exceptions.ValidationError({"endpoint": [str(exc)]}) from None
        body = PushSubscriptionSerializer(subscription_to_dict(subscription)).data
        if not created:
            return Response(body, status=status.HTTP_200_OK)
        location = request.build_absolute_uri(f"/api/{user_id}/push-subscriptions/{subscription.pk}/")
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})

    @extend_schema(responses={204: None, **problems(404, *AUTHENTICATED)})
    def destroy(self, request: Request, user_id: str, pk: str) -> Response:
        services.push_subscription_delete(user=request.user, subscription_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
