"""Request-scoped middleware: the request id that ties a client's report to our logs."""

import itertools
import os
import re

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def request_id_from(request: HttpRequest) -> str:
    """The client's own `X-Request-ID` when it is safe to echo and log, else a new one."""
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    if _CLIENT_REQUEST_ID.fullmatch(supplied):
        return supplied
    return _new_request_id()


_process: tuple[int, str, itertools.count] | None = None


def _new_request_id() -> str:
    """32 hex digits, unique: a random prefix drawn once per process, then a counter. A uuid4 per
    request would ask the kernel for randomness every time; ids need to be unique, not secret."""
    global _process
    if _process is None or _process[0] != os.getpid():  # a forked worker draws its own prefix
        _process = (os.getpid(), os.urandom(8).hex(), itertools.count())
    return f"{_process[1]}{next(_process[2]):016x}"


class RequestIDMiddleware:
    """Give every request an id (`request.request_id`) and echo it in `X-Request-ID`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_from(request)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response
