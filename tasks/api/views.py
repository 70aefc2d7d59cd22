"""The task routes: parse with a serializer, call a service or selector, answer (docs/API.md §4)."""

import hashlib
import re
from urllib.parse import urlencode

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import USER_ID_PATTERN
from accounts.permissions import IsUrlUser
from core.etags import if_match_versions, version_etag, weak_match
from core.formats import ORJSONRenderer
from core.schema import AUTHENTICATED, problems
from tasks import selectors, services
from tasks.api import list_pages
from tasks.api.idempotency import create_once, task_location
from tasks.api.serializers import (
    BulkResultSerializer,
    BulkSerializer,
    ChangesQuerySerializer,
    ChangesSerializer,
    CompleteSerializer,
    OccurrencesQuerySerializer,
    OccurrencesSerializer,
    StatsSerializer,
    TagCountSerializer,
    TaskListQuerySerializer,
    TaskSerializer,
    TaskWriteSerializer,
    task_to_dict,
)
from tasks.models import Task

IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,255}")

USER_ID_PARAMETER = OpenApiParameter(
    "user_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    # The routes match only this form; any other string is no route at all (404).
    pattern=f"^{USER_ID_PATTERN}$",
    description="Your user id: the token's `sub`.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Only write if the ETag still matches (else 412).",
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201, 304],
    description="The task's version.",
)
LIST_HEADERS = [
    OpenApiParameter(
        "X-Total-Count",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[200],
        description="Tasks matching.",
    ),
    OpenApiParameter(
        "Link",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200],
        description='Next page: rel="next".',
    ),
]
LOCATION = OpenApiParameter(
    "Location", OpenApiTypes.URI, OpenApiParameter.HEADER, response=[201], description="The new task's URL."
)


READ_ERRORS = problems(*AUTHENTICATED)
QUERY_ERRORS = problems(400, *AUTHENTICATED)
WRITE_ERRORS = problems(400, 413, 415, *AUTHENTICATED)
DETAIL_ERRORS = problems(404, *AUTHENTICATED)
DETAIL_WRITE_ERRORS = problems(400, 404, 412, 413, 415, *AUTHENTICATED)


class TaskViewSet(viewsets.ViewSet):
    """`/api/{user_id}/tasks/...`: the caller's own tasks only."""

    permission_classes = [IsAuthenticated, IsUrlUser]
    lookup_field = "pk"
    lookup_value_regex = r"[0-9]{1,18}"  # larger ids cannot exist (bigint); they are 404, not 500

    @extend_schema(
        parameters=[USER_ID_PARAMETER, TaskListQuerySerializer, *LIST_HEADERS],
        responses={
            200: TaskSerializer(many=True),
            304: OpenApiResponse(description="Not modified"),
            **QUERY_ERRORS,
        },
        description=(
            'A page of your tasks. `X-Total-Count` counts all matches; `Link: rel="next"` has the next page. '
            "The weak `ETag` changes whenever your tasks do; `If-None-Match` with it is 304."
        ),
    )
    def list(self, request: Request, user_id: str) -> Response:
        params = TaskListQuerySerializer.parse(request.query_params)
        state = selectors.task_list_state(user=request.user, params=params)
        etag = list_etag(state, user_id, request.META.get("QUERY_STRING", ""))
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and weak_match(if_none_match, etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        key = list_pages.page_key(state, user_id, request.META.get("QUERY_STRING", ""))
        rendered = list_pages.get(key)
        if rendered is None:
            try:
                page = selectors.task_list(user=request.user, params=params, state=state)
            except selectors.InvalidCursor as error:
                raise serializers.ValidationError({"cursor": [str(error)]}) from None
            rendered = list_pages.RenderedPage(
                ORJSONRenderer().render(page.tasks), page.total, page.next_cursor
            )
            list_pages.put(key, rendered)
        headers = {"X-Total-Count": str(rendered.total), "ETag": etag}
        if rendered.next_cursor:
            query = request.query_params.copy()
            query["cursor"] = rendered.next_cursor
            next_url = request.build_absolute_uri(request.path) + "?" + urlencode(query, doseq=True)
            headers["Link"] = f'<{next_url}>; rel="next"'
        return HttpResponse(rendered.body, content_type=ORJSONRenderer.media_type, headers=headers)

    @extend_schema(
        parameters=[
            USER_ID_PARAMETER,
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Retry-safe create: 1-255 printable ASCII characters.",
            ),
            LOCATION,
            ETAG,
        ],
        request=TaskWriteSerializer,
        responses={201: TaskSerializer, **problems(400, 409, 413, 415, 422, *AUTHENTICATED)},
    )
    def create(self, request: Request, user_id: str) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
            raise serializers.ValidationError(
                {"Idempotency-Key": ["Must be 1 to 255 printable ASCII characters without spaces."]}
            )
        fields = TaskWriteSerializer.parse(request.data)
        if key is not None:
            return create_once(request, key=key, fields=fields)
        task = services.task_create(user=request.user, **fields)
        return Response(
            task_to_dict(task),
            status=status.HTTP_201_CREATED,
            headers={"Location": task_location(request, task), "ETag": task.etag},
        )

    @extend_schema(
        parameters=[
            USER_ID_PARAMETER,
            OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER),
            ETAG,
        ],
        responses={200: TaskSerializer, 304: OpenApiResponse(description="Not modified"), **DETAIL_ERRORS},
    )
    def retrieve(self, request: Request, user_id: str, pk: str) -> Response:
        task = selectors.task_get(user=request.user, task_id=int(pk))
        etag = version_etag(task["version"])
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and weak_match(if_none_match, etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(task, headers={"ETag": etag})

    @extend_schema(
        parameters=[USER_ID_PARAMETER, IF_MATCH, ETAG],
        request=TaskWriteSerializer,
        responses={200: TaskSerializer, **DETAIL_WRITE_ERRORS},
        description="Replace the fields given; `title` is required, fields left out keep their values.",
    )
    def update(self, request: Request, user_id: str, pk: str) -> Response:
        return self._write(request, pk, partial=False)

    @extend_schema(
        parameters=[USER_ID_PARAMETER, IF_MATCH, ETAG],
        request=TaskWriteSerializer(partial=True),
        responses={200: TaskSerializer, **DETAIL_WRITE_ERRORS},
    )
    def partial_update(self, request: Request, user_id: str, pk: str) -> Response:
        return self._write(request, pk, partial=True)

    def _write(self, request: Request, pk: str, *, partial: bool) -> Response:
        task = services.task_update(
            user=request.user,
            task_id=int(pk),
            changes=TaskWriteSerializer.parse(request.data, partial=partial),
            versions=if_match_versions(request.headers.get("If-Match")),
        )
        return _task_response(task)

    @extend_schema(
        parameters=[USER_ID_PARAMETER, IF_MATCH],
        responses={204: None, **problems(404, 412, *AUTHENTICATED)},
    )
    def destroy(self, request: Request, user_id: str, pk: str) -> Response:
        services.task_delete(
            user=request.user, task_id=int(pk), versions=if_match_versions(request.headers.get("If-Match"))
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[USER_ID_PARAMETER, IF_MATCH, ETAG],
        request=CompleteSerializer,
        responses={200: TaskSerializer, **DETAIL_WRITE_ERRORS},
        description='No body: toggle. `{"completed": true}`: set (safe to retry).',
    )
    @action(detail=True, methods=["patch"])
    def complete(self, request: Request, user_id: str, pk: str) -> Response:
        body = request.data
        if type(body) is dict and body.keys() <= {"completed"} and type(body.get("completed", False)) is bool:
            completed = body.get("completed")  # no body, `{}` or a plain boolean: no serializer needed
        else:
            data = CompleteSerializer(data=body)
            data.is_valid(raise_exception=True)
            completed = data.validated_data.get("completed")
        task = services.task_set_completed(
            user=request.user,
            task_id=int(pk),
            completed=completed,
            versions=if_match_versions(request.headers.get("If-Match")),
        )
        return _task_response(task)

    @extend_schema(
        parameters=[USER_ID_PARAMETER],
        request=BulkSerializer,
        responses={200: BulkResultSerializer, **WRITE_ERRORS},
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request, user_id: str) -> Response:
        data = BulkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.tasks_bulk(user=request.user, **data.validated_data)
        return Response(
            {
                "action": result.action,
                "affected": result.affected,
                "missing": result.missing,
                "spawned": result.spawned,
            }
        )

    @extend_schema(
        parameters=[USER_ID_PARAMETER, OccurrencesQuerySerializer],
        responses={200: OccurrencesSerializer, **problems(400, 404, *AUTHENTICATED)},
        description=(
            "The next due dates (UTC) the task's series would take after its due date: "
            "`[]` for a task that does not recur or whose series is over."
        ),
    )
    @action(detail=True, methods=["get"])
    def occurrences(self, request: Request, user_id: str, pk: str) -> Response:
        query = OccurrencesQuerySerializer(
            data=request.query_params.dict()
        )  # `limit=` is invalid, not absent
        query.is_valid(raise_exception=True)
        dates = selectors.task_occurrences(
            user=request.user, task_id=int(pk), limit=query.validated_data["limit"]
        )
        return Response({"occurrences": dates})

    @extend_schema(
        parameters=[USER_ID_PARAMETER, ChangesQuerySerializer],
        responses={200: ChangesSerializer, **problems(400, 410, *AUTHENTICATED)},
        description=(
            "The change feed (sync). Without `since`: every task as an `upsert`, in pages. With "
            "`since` (a `next` you were given): every task created, changed or deleted since, once, in "
            "its latest state. Follow `next` while `has_more`, then keep the last `next` for the next "
            "sync. `410 sync_expired`: the token is older than deleted tasks are kept; start again "
            "without `since`."
        ),
    )
    @action(detail=False, methods=["get"])
    def changes(self, request: Request, user_id: str) -> Response:
        since, limit = ChangesQuerySerializer.parse(request.user, request.query_params)
        page = selectors.task_changes(user=request.user, since=since, limit=limit)
        token = selectors.encode_sync_token(user=request.user, position=page.position)
        return Response({"changes": page.changes, "next": token, "has_more": page.has_more})

    @extend_schema(parameters=[USER_ID_PARAMETER], responses={200: StatsSerializer, **READ_ERRORS})
    @action(detail=False, methods=["get"])
    def stats(self, request: Request, user_id: str) -> Response:
        return Response(selectors.task_stats(user=request.user))


@extend_schema_view(
    list=extend_schema(
        parameters=[USER_ID_PARAMETER], responses={200: TagCountSerializer(many=True), **READ_ERRORS}
    )
)
class TagViewSet(viewsets.ViewSet):
    """`/api/{user_id}/tags/`: the caller's tags that are on at least one task."""

    permission_classes = [IsAuthenticated, IsUrlUser]

    def list(self, request: Request, user_id: str) -> Response:
        return Response(selectors.tag_list(user=request.user))


def _task_response(task: Task) -> Response:
    return Response(task_to_dict(task), headers={"ETag": task.etag})


def list_etag(state: selectors.TaskListState, user_id: str, query_string: str) -> str:
    """The list's weak ETag: the user's task revision (and, for overdue lists, the newest due date
    passed), tied to this user and query so that no two lists share a tag."""
    passed = f".{state.passed_due.timestamp():.6f}" if state.passed_due else ""
    query = hashlib.blake2b(f"{user_id}?{query_string}".encode(), digest_size=6).hexdigest()
    return f'W/"{state.revision}{passed}.{query}"'
