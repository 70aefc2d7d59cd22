"""WSGI entry point for gunicorn."""

import io
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")

django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 (configured by get_wsgi_application)


def _is_dechunked_body(environ) -> bool:
    return (
        not environ.get("CONTENT_LENGTH")
        and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        and bool(environ.get("wsgi.input_terminated"))
    )


def application(environ, start_response):
    """Django, with chunked request bodies made readable.

    Django reads exactly CONTENT_LENGTH bytes of a body; a chunked request (no Content-Length) would
    look empty to it, so a JSON write sent chunked was silently taken as `{}`. When the server has
    de-chunked the body (`wsgi.input_terminated`, as gunicorn does), up to one byte more than the
    body limit is read here and handed on with its length; a longer body then gets its 413 (the
    rest is discarded by gunicorn.conf.py's post_request).
    """
    if _is_dechunked_body(environ):
        body = environ["wsgi.input"].read(settings.API_MAX_BODY_BYTES + 1)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    return django_application(environ, start_response)
