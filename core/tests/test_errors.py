"""Every error under /api/ is problem+json (docs/API.md §2); request ids tie a report to the logs."""

import re

import pytest
from django.test import Client

from core.tests.support import assert_problem
from todo_project.tests.urls_failing import SECRET_DETAIL

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token/"
MiB = 1024 * 1024


# --- Unknown routes -------------------------------------------------------------------------------
UNKNOWN = [
    "/api",
    "/api/",
    "/api/nope",
    "/api/nope/",
    "/api/me/extra/",
    "/api/auth/",
    "/api/tasks/",
    "/api/a/b/c/d",
]


@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_api_route_is_404_without_a_token(api_client, path):
    body = assert_problem(api_client.get(path), 404, "not_found")
    assert body["title"] == "Not Found"


@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_api_route_is_404_with_a_valid_token(auth_client, path):
    assert_problem(auth_client.get(path), 404, "not_found")


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_unknown_api_route_is_404_for_every_method_even_with_a_bad_token(api_client, method):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_problem(getattr(api_client, method)("/api/nope/"), 404, "not_found")


# --- Methods, media types, sizes, JSON ------------------------------------------------------------
def test_wrong_method_is_405_with_allow(auth_client):
    response = auth_client.delete("/api/me/")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
    assert "DELETE" not in response["Allow"]


def test_get_on_a_post_only_route_is_405_with_allow(api_client):
    response = api_client.get(TOKEN)
    assert_problem(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", "email=a@example.com"),
        ("application/x-www-form-urlencoded", "email=a%40example.com&password=x"),
        ("application/xml", "<email>a@example.com</email>"),
    ],
)
def test_non_json_body_is_415(api_client, content_type, body):
    response = api_client.post(TOKEN, body, content_type=content_type)
    assert_problem(response, 415, "unsupported_media_type")


def test_body_over_one_mib_is_413(api_client):
    body = b'{"email": "' + b"a" * MiB + b'", "password": "x"}'
    assert_problem(api_client.post(TOKEN, body, content_type="application/json"), 413, "payload_too_large")


def test_body_over_one_mib_is_413_on_an_authenticated_route(auth_client, user):
    body = b'{"title": "' + b"a" * (2 * MiB) + b'"}'
    response = auth_client.post(f"/api/{user.pk}/tasks/", body, content_type="application/json")
    assert_problem(response, 413, "payload_too_large")


def test_body_of_exactly_one_mib_is_parsed(api_client):
    prefix, suffix = b'{"password": "x", "email": "', b'"}'
    body = prefix + b"a" * (MiB - len(prefix) - len(suffix)) + suffix
    assert len(body) == MiB
    # Parsed, then refused by validation (the email is absurd), not by size.
    assert_problem(api_client.post(TOKEN, body, content_type="application/json"), 400, "validation_error")


@pytest.mark.parametrize(
    "body",
    [
        b'{"email":',
        b"{'email': 'a@example.com'}",
        b'{"email": "a@example.com",}',
        b"{}x",
        b"NaN",
        b'{"email": "\xff\xfe"}',
        b'{"email": "\\ud800"}',
        b"[" * 100_000,
        b'{"a":' * 100_000,
    ],
    ids=[
        "truncated",
        "single-quotes",
        "trailing-comma",
        "trailing-garbage",
        "nan",
        "bad-utf8",
        "lone-surrogate",
        "deep-array",
        "deep-object",
    ],
)
def test_malformed_json_is_400_malformed_json(api_client, body):
    response = api_client.post(TOKEN, body, content_type="application/json")
    assert_problem(response, 400, "malformed_json")
    assert "Traceback" not in response.content.decode()


@pytest.mark.parametrize("depth", [33, 300, 1000])
def test_valid_json_nested_deeper_than_the_limit_is_400_malformed_json(api_client, depth):
    # Valid JSON, but deep enough to exhaust recursion later (DRF's str(), orjson.dumps at 255).
    body = b'{"email": ' + b"[" * depth + b"]" * depth + b', "password": "x"}'
    assert_problem(api_client.post(TOKEN, body, content_type="application/json"), 400, "malformed_json")


def test_json_nested_to_the_limit_is_parsed(api_client):
    body = b'{"email": ' + b"[" * 31 + b"]" * 31 + b', "password": "x"}'  # 32 levels with the object
    body = assert_problem(
        api_client.post(TOKEN, body, content_type="application/json"), 400, "validation_error"
    )
    assert "email" in body["errors"]


def test_json_with_a_charset_parameter_is_accepted(api_client):
    response = api_client.post(
        TOKEN, b'{"email": "a@example.com", "password": "x"}', content_type="application/json; charset=utf-8"
    )
    assert_problem(response, 401, "invalid_credentials")  # parsed, then refused on the merits


@pytest.mark.urls("todo_project.tests.urls_failing")
def test_body_over_one_mib_read_outside_drf_is_413():
    # Django itself refuses it (RequestDataTooBig); its handler400 must still answer problem+json.
    client = Client(raise_request_exception=False)
    body = b"x" * (2 * MiB)
    response = client.post("/api/test-only/body-reading-django-view/", body, content_type="application/json")
    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("path", ["/api/me/", "/api/nope/", TOKEN])
def test_host_not_allowed_is_a_400_problem(auth_client, path):
    response = auth_client.get(path, HTTP_HOST="evil.example")
    body = assert_problem(response, 400, "validation_error")
    assert list(body["errors"]) == ["Host"]


# --- Request ids ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "request_id", ["abc-123_X.y", "a", "f" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e"]
)
def test_valid_client_request_id_is_echoed(api_client, request_id):
    response = api_client.get("/api/nope/", HTTP_X_REQUEST_ID=request_id)
    assert response["X-Request-ID"] == request_id
    assert response.json()["request_id"] == request_id


@pytest.mark.parametrize(
    "request_id", ["f" * 129, "x" * 200, "has spaces", "semi;colon", "new\nline", "ünï", "a/b", ""]
)
def test_invalid_client_request_id_is_replaced(api_client, request_id):
    response = api_client.get("/api/nope/", HTTP_X_REQUEST_ID=request_id)
    assert response["X-Request-ID"] != request_id
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", response["X-Request-ID"])
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_every_response_has_a_request_id(api_client, auth_client):
    responses = [auth_client.get("/api/me/"), api_client.get("/healthz"), api_client.get("/no-such-page/")]
    for response in responses:
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", response["X-Request-ID"])
    assert len({response["X-Request-ID"] for response in responses}) == 3


# --- 500 ------------------------------------------------------------------------------------------
@pytest.mark.urls("todo_project.tests.urls_failing")
def test_crash_in_an_api_view_is_a_500_problem_without_details(api_client, caplog):
    response = api_client.get("/api/test-only/failing-api-view/", HTTP_X_REQUEST_ID="crash-1")
    body = assert_problem(response, 500, "server_error")
    assert body["request_id"] == "crash-1"
    text = response.content.decode()
    for leak in ("Traceback", "RuntimeError", SECRET_DETAIL, "accounts_user", 'File "'):
        assert leak not in text
    # The details go to the log instead, where the request id finds them.
    assert "RuntimeError" in caplog.text or SECRET_DETAIL in caplog.text


@pytest.mark.urls("todo_project.tests.urls_failing")
def test_crash_outside_drf_is_a_500_problem_without_details():
    client = Client(raise_request_exception=False)
    response = client.get("/api/test-only/failing-django-view/", HTTP_X_REQUEST_ID="crash-2")
    body = assert_problem(response, 500, "server_error")
    assert body["request_id"] == "crash-2"
    text = response.content.decode()
    for leak in ("Traceback", "RuntimeError", SECRET_DETAIL):
        assert leak not in text


# --- Trailing slashes -----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/me", "/api/me/"])
def test_me_answers_with_and_without_the_slash(auth_client, path):
    response = auth_client.get(path)
    assert response.status_code == 200


@pytest.mark.parametrize("route", ["/api/auth/register", "/api/auth/token", "/api/auth/token/refresh"])
@pytest.mark.parametrize("slash", ["", "/"])
def test_auth_routes_answer_post_with_and_without_the_slash(api_client, route, slash):
    # An empty body reaches the view (400 validation_error), proving the route matched with no redirect.
    response = api_client.post(route + slash, {}, format="json")
    assert_problem(response, 400, "validation_error")


@pytest.mark.parametrize(
    "path",
    [
        "/api/schema",
        "/api/schema/",
        "/api/docs",
        "/api/docs/",
        "/healthz",
        "/healthz/",
        "/readyz",
        "/readyz/",
    ],
)
def test_public_routes_answer_with_and_without_the_slash(api_client, path):
    assert api_client.get(path).status_code == 200


def test_docs_load_nothing_from_a_cdn(api_client):
    html = api_client.get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
