"""A Bearer API request does no session, CSRF, messages, admin-lockout or clickjacking work (issue 11);
the pages and the admin keep all of it. Each browser middleware's own entry point is wrapped so that
calling it is recorded, then one API call and one page load are made through the whole stack."""

import pytest
from axes.middleware import AxesMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.test import Client

pytestmark = pytest.mark.django_db

ENTRY_POINTS = [
    (SessionMiddleware, "process_request"),
    (CsrfViewMiddleware, "process_request"),
    (CsrfViewMiddleware, "process_view"),
    (AuthenticationMiddleware, "process_request"),
    (MessageMiddleware, "process_request"),
    (XFrameOptionsMiddleware, "process_response"),
    (AxesMiddleware, "__call__"),
]


@pytest.fixture
def calls(monkeypatch):
    """The names of the browser middleware entry points that ran."""
    ran: list[str] = []
    for cls, name in ENTRY_POINTS:
        original = getattr(cls, name)

        def recording(self, *args, _original=original, _label=f"{cls.__name__}.{name}", **kwargs):
            ran.append(_label)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, recording)
    return ran


def test_a_bearer_api_request_runs_no_browser_middleware(calls, user, auth_header):
    response = Client().get(f"/api/{user.pk}/tasks/", **auth_header)

    assert response.status_code == 200
    assert calls == []
    assert "Set-Cookie" not in response.headers


def test_an_api_error_runs_no_browser_middleware_either(calls, user, auth_header):
    response = Client().get(f"/api/{user.pk}/tasks/999/", **auth_header)

    assert response.status_code == 404
    assert calls == []


def test_a_page_still_runs_every_browser_middleware(calls):
    response = Client().get("/login")

    assert response.status_code == 200
    assert sorted(set(calls)) == sorted(f"{cls.__name__}.{name}" for cls, name in ENTRY_POINTS)
    assert response["X-Frame-Options"] == "DENY"


def test_the_admin_login_still_runs_every_browser_middleware(calls):
    response = Client().get("/admin/login/")

    assert response.status_code == 200
    assert sorted(set(calls)) == sorted(f"{cls.__name__}.{name}" for cls, name in ENTRY_POINTS)


@pytest.mark.parametrize(
    "path", ["/api/{user}/tasks/", "/api/{user}/tasks/999/", "/api/{user}/nothing-here/"]
)
def test_every_authenticated_api_response_is_private_and_varies_by_authorization(user, auth_header, path):
    response = Client().get(path.format(user=user.pk), **auth_header)

    assert response["Cache-Control"] == "private, no-cache"
    assert "Authorization" in [value.strip() for value in response["Vary"].split(",")]
    assert response["X-Frame-Options"] == "DENY"
