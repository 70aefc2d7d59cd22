"""Idempotent create (docs/API.md §4): claim the key, create, store the response, as one transaction.

The task is created first and the key's record (with the response) inserted after it, in the same
transaction. When a live record already holds the key, the transaction is rolled back (no task is
left behind) and the stored response is replayed, or `422` when the body differs. A concurrent
request with the same key waits on the key's unique index until the first commits, then replays.
"""

from typing import Any

from django.db import transaction
from django.urls import reverse
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from core.http_errors import IdempotencyConflict, IdempotencyInProgress
from tasks import services
from tasks.api.serializers import task_to_dict
from tasks.models import Task


class _KeyTaken(Exception):
    """A live record holds the key: undo this create."""


def task_location(request: Request, task: Task) -> str:
    return request.build_absolute_uri(reverse("task-detail", kwargs={"user_id": task.user_id, "pk": task.pk}))


def create_once(request: Request, *, key: str, fields: dict[str, Any]) -> Response:
    user = request.user
    fingerprint = services.request_fingerprint(request.data)
    try:
        with transaction.atomic():
            task = services.task_create(user=user, **fields)
            stored = services.StoredResponse(201, task_to_dict(task), task_location(request, task), task.etag)
            if not services.idempotency_key_claim(
                user=user, key=key, fingerprint=fingerprint, response=stored
            ):
                raise _KeyTaken
    except _KeyTaken:
        return _replay(request, key=key, fingerprint=fingerprint)
    return Response(
        stored.body,
        status=status.HTTP_201_CREATED,
        headers={"Location": stored.location, "ETag": stored.etag},
    )


def _replay(request: Request, *, key: str, fingerprint: str) -> Response:
    record = services.idempotency_key_get(user=request.user, key=key)
    if record is None or record.status_code is None:
        raise IdempotencyInProgress()  # expired and purged meanwhile, or an older release's claim
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict()
    headers = {"Location": record.location, "ETag": record.etag, "Idempotent-Replayed": "true"}
    return Response(record.response_body, status=record.status_code, headers=headers)
