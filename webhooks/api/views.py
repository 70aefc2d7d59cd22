"""The webhook routes: parse, call a service or selector, answer (docs/API.md §9)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsUrlUser
from core.schema import AUTHENTICATED, problems
from tasks.api.views import USER_ID_PARAMETER
from webhooks import selectors, services
from webhooks.api.serializers import (
    DeliverySerializer,
    WebhookCreatedSerializer,
    WebhookCreateSerializer,
    WebhookSerializer,
    attempt_to_dict,
    webhook_to_dict,
)


class WebhookViewSet(viewsets.ViewSet):
    """`/api/{user_id}/webhooks/...`: the caller's own endpoints only."""

    permission_classes = [IsAuthenticated, IsUrlUser]
    lookup_field = "pk"
    lookup_value_regex = r"[0-9]{1,18}"

    @extend_schema(
        parameters=[USER_ID_PARAMETER],
        responses={200: WebhookSerializer(many=True), **problems(*AUTHENTICATED)},
    )
    def list(self, request: Request, user_id: str) -> Response:
        return Response([webhook_to_dict(webhook) for webhook in selectors.webhook_list(user=request.user)])

    @extend_schema(
        parameters=[USER_ID_PARAMETER],
        request=WebhookCreateSerializer,
        responses={201: WebhookCreatedSerializer, **problems(400, 413, 415, *AUTHENTICATED)},
        description="Its `secret` signs every delivery (Standard Webhooks) and is shown only here. "
        "At most 10 per user.",
    )
    def create(self, request: Request, user_id: str) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        webhook, secret = services.webhook_create(
            user=request.user, url=body.get("url"), events=body.get("events")
        )
        return Response({**webhook_to_dict(webhook), "secret": secret}, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[USER_ID_PARAMETER], responses={204: None, **problems(404, *AUTHENTICATED)})
    def destroy(self, request: Request, user_id: str, pk: str) -> Response:
        services.webhook_delete(user=request.user, webhook_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[USER_ID_PARAMETER],
        responses={200: DeliverySerializer(many=True), **problems(404, *AUTHENTICATED)},
        description="The last 100 delivery attempts, newest first.",
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, user_id: str, pk: str) -> Response:
        attempts = selectors.webhook_deliveries(user=request.user, webhook_id=int(pk))
        return Response([attempt_to_dict(attempt) for attempt in attempts])
