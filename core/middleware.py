"""Middleware of the API's fast path.

The browser middleware (sessions, CSRF, messages, the admin's lockout, clickjacking protection)
serves the pages and the admin. A Bearer API request needs none of it: it carries no cookie that
is trusted and renders no frame. Each class below is Django's own, skipped for `/api/` paths, so
the admin's system checks still find the middleware they require and the pages keep all of it.
"""

from axes.middleware import AxesMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware

API_PREFIX = "/api/"
API_CACHE_CONTROL = "private, no-cache"


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


class _BrowserOnly:
    """Run the middleware for pages and the admin; pass API requests straight through."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_request(request):
            return self.get_response(request)
        return super().__call__(request)


class BrowserSessionMiddleware(_BrowserOnly, SessionMiddleware):
    pass


class BrowserCsrfViewMiddleware(_BrowserOnly, CsrfViewMiddleware):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        if is_api_request(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class BrowserAuthenticationMiddleware(_BrowserOnly, AuthenticationMiddleware):
    pass


class BrowserMessageMiddleware(_BrowserOnly, MessageMiddleware):
    pass


class BrowserXFrameOptionsMiddleware(_BrowserOnly, XFrameOptionsMiddleware):
    pass


class BrowserAxesMiddleware(_BrowserOnly, AxesMiddleware):
    pass


class ApiCacheHeadersMiddleware:
    """Every `/api/` response is private to the caller and revalidated before reuse (docs/API.md §4):
    `Cache-Control: private, no-cache` (unless the view chose stricter) and `Vary: Authorization`.
    `X-Frame-Options: DENY` too, as a plain header: no page of the API is ever framed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if is_api_request(request):
            headers = response.headers
            headers.setdefault("Cache-Control", API_CACHE_CONTROL)
            vary = headers.get("Vary")
            headers["Vary"] = f"{vary}, Authorization" if vary else "Authorization"
            headers.setdefault("X-Frame-Options", "DENY")
        return response
