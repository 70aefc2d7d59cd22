"""The DRF floor: what Django and DRF alone cost for the project's routes, with the bare floor's SQL.

One DRF APIView per route (the task collection, a task, its complete action), no middleware (see
bench/drf_floor_settings.py), an HS256 authentication class that verifies the token as the bare floor
does (bench/floor.py, then the user row), a URL-user permission, an orjson renderer and parser. The
SQL and the JSON are the bare floor's (its request functions), sent through a raw cursor of Django's
persistent connection: no ORM, no model instances, no serializers. The project's throughput as a
share of this floor's is what the project's own code costs on top of the framework.

Run: DJANGO_SETTINGS_MODULE=bench.drf_floor_settings gunicorn -c gunicorn.conf.py bench.drf_floor:application
"""

import os

import orjson
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.urls import re_path
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from bench import floor
from core.http_errors import BEARER_CHALLENGE, PROBLEM_CONTENT_TYPE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.drf_floor_settings")


class FloorUser:
    """The authenticated user: the id and flags of its row, not a model instance."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, row: tuple):
        self.pk = self.id = row[3]
        self.is_active = row[6]


class HS256Authentication(BaseAuthentication):
    """Authorization: Bearer <HS256 JWT>, verified as the bare floor does, then the user row."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        try:
            sub = floor.verify_token(header)
        except floor.Problem as problem:
            raise exceptions.AuthenticationFailed(code=problem.code) from None
        with connection.cursor() as cursor:
            try:
                row = floor.active_user(cursor, sub)
            except floor.Problem as problem:
                raise exceptions.PermissionDenied(code=problem.code) from None
        return FloorUser(row), None

    def authenticate_header(self, request) -> str:
        return BEARER_CHALLENGE


class IsUrlUser(BasePermission):
    """The user id in the URL must be the token's `sub`."""

    def has_permission(self, request, view) -> bool:
        if request.user is None:
            return False
        if view.kwargs.get("user_id") != request.user.pk:
            raise exceptions.PermissionDenied(code="user_mismatch")
        return True


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return b"" if data is None else orjson.dumps(data)


class ORJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(floor.MAX_BODY + 1) if stream is not None else b""
        if len(raw) > floor.MAX_BODY:
            raise exceptions.ParseError("too large")
        try:
            return orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise exceptions.ParseError("malformed JSON") from None


class FloorView(APIView):
    """The bare floor's request functions as DRF responses; its Problems as problem+json."""

    authentication_classes = [HS256Authentication]
    permission_classes = [IsUrlUser]
    renderer_classes = [ORJSONRenderer]
    parser_classes = [ORJSONParser]
    throttle_classes = []

    def answer(self, function, *args, status: int = 200) -> Response:
        with connection.cursor() as cursor:
            headers, data = function(cursor, *args)
        return Response(data, status=status, headers=dict(headers))

    def handle_exception(self, exc):
        if isinstance(exc, floor.Problem):
            status = int(exc.status[:3])
            return Response(
                {"status": status, "code": exc.code}, status=status, content_type=PROBLEM_CONTENT_TYPE
            )
        return super().handle_exception(exc)


class TaskCollection(FloorView):
    def get(self, request, user_id: str) -> Response:
        query = {key: request.query_params.getlist(key) for key in request.query_params}
        return self.answer(floor.task_list, user_id, query, request.build_absolute_uri(request.path))

    def post(self, request, user_id: str) -> Response:
        key = request.headers.get("Idempotency-Key")
        prefix = request.build_absolute_uri(f"/api/{user_id}/tasks/")
        return self.answer(floor.task_create, user_id, request.data, key, prefix, status=201)


class TaskDetail(FloorView):
    def get(self, request, user_id: str, pk: str) -> Response:
        return self.answer(floor.task_detail, user_id, int(pk))

    def patch(self, request, user_id: str, pk: str) -> Response:
        return self.answer(floor.task_update, user_id, int(pk), request.data, request.headers.get("If-Match"))


class TaskComplete(FloorView):
    def patch(self, request, user_id: str, pk: str) -> Response:
        return self.answer(
            floor.task_complete, user_id, int(pk), request.data, request.headers.get("If-Match")
        )


USER = r"(?P<user_id>[A-Za-z0-9._~-]{1,128})"
urlpatterns = [
    re_path(rf"^api/{USER}/tasks/?$", TaskCollection.as_view()),
    re_path(rf"^api/{USER}/tasks/(?P<pk>[0-9]{{1,18}})/?$", TaskDetail.as_view()),
    re_path(rf"^api/{USER}/tasks/(?P<pk>[0-9]{{1,18}})/complete/?$", TaskComplete.as_view()),
]

application = get_wsgi_application()
