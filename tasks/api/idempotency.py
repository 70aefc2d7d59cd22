"""Idempotent create (docs/API.md §4): create, store the response under the key, as one transaction.

The task is created first and the key's record (with the response) inserted after it, in the same
transaction. When a live record already holds the key, that insert fails, the transaction is rolled
back (no task is left behind) and the stored response is replayed, or `422` when the body differs. A
concurrent request with the same key waits on the key's unique index until the first commits, then
replays. (psycopg's pipeline mode would send BEGIN and COMMIT along with the two statements, but on
this 2-core machine it cost more CPU than the round trips it saved: 3.7 ms against 1.9-2.3 ms per
create, measured in-process.)
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from core.http_errors import IdempotencyConflict, IdempotencyInProgress
from tasks import services
from tasks.api.serializers import task_to_dict
from tasks.models import Task


def task_location(request: Request, task: Task) -> str:
    return request.build_absolute_uri(reverse("task-detail", kwargs={"user_id": task.user_id, "pk": task.pk}))


def create_once(request: Request, *, key: str, fields: dict[str, Any]) -> Response:
    user = request.user
    fingerprint = services.request_fingerprint(request.data)
    try:
        with transaction.atomic():
            task = services.task_create(user=user, **fields)
            stored = services.StoredResponse(201, task_to_dict(task), task_location(request, task), task.etag)
            services.idempotency_key_store(user=user, key=key, fingerprint=fingerprint, response=stored)
    except IntegrityError:
        if services.idempotency_key_get(user=user, key=key) is None:
            raise  # not the key's constraint
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
