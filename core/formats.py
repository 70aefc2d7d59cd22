"""Wire formats of the API: JSON bodies in (size-limited, strict), JSON out (orjson)."""

from typing import Any

import orjson
from django.conf import settings
from django.http import Http404
from django.utils.encoding import force_str
from django.utils.functional import Promise
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer

from core.http_errors import PayloadTooLarge

# No body of this API nests more than two levels. orjson allows 1024, but deeper input only serves
# to exhaust recursion later: DRF's str() of a field value, orjson.dumps (255) of an idempotency
# fingerprint. Such a body is refused whole, as malformed.
MAX_JSON_DEPTH = 32


class LimitedJSONParser(BaseParser):
    """JSON bodies up to `API_MAX_BODY_BYTES`; anything else is 413 or `400 malformed_json`.

    orjson rejects NaN and lone surrogates (which PostgreSQL would refuse); nesting deeper than
    MAX_JSON_DEPTH is refused here, so hostile JSON is a 400, never a 500.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise exceptions.ParseError(f"The request body is not valid JSON: {error}") from None
        if _nests_deeper_than(data, MAX_JSON_DEPTH):
            raise exceptions.ParseError(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.")
        return data


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels (iteratively: no recursion to exhaust)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _json_default(value: Any) -> Any:
    if isinstance(value, Promise):
        return force_str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


class ORJSONRenderer(BaseRenderer):
    """DRF's JSON renderer, done by orjson: the same output, a fraction of the time."""

    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        # Datetimes (the hot reads hand over the database's own) as RFC 3339 UTC with `Z`.
        return orjson.dumps(data, default=_json_default, option=orjson.OPT_UTC_Z)


class LenientContentNegotiation(DefaultContentNegotiation):
    """Answer in the view's first format when the client's `Accept` or `?format` asks for
    something the view cannot produce, instead of 406/404."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except (exceptions.NotAcceptable, Http404):
            return renderers[0], renderers[0].media_type
