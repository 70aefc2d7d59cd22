"""CORS exactly as docs/API.md §5: the browser frontend's origin may call the API, no one else."""

import pytest

FRONTEND = "https://app.example.com"
ALLOWED_HEADERS = {
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "x-request-id",
}
EXPOSED_HEADERS = {"etag", "link", "location", "x-total-count", "x-request-id", "retry-after"}


@pytest.fixture(autouse=True)
def _frontend_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = [FRONTEND]


def _header_set(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",") if item.strip()}


def preflight(client, path: str, origin: str, method: str = "PATCH", headers: str = ""):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers or ", ".join(sorted(ALLOWED_HEADERS)),
    )


@pytest.mark.parametrize("path", ["/api/me/", "/api/u1/tasks/42/", "/api/auth/token"])
def test_preflight_from_the_frontend_allows_the_api_headers_and_is_cached(api_client, path):
    response = preflight(api_client, path, FRONTEND)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == FRONTEND
    assert _header_set(response["Access-Control-Allow-Headers"]) >= ALLOWED_HEADERS
    assert {"get", "post", "put", "patch", "delete"} <= _header_set(response["Access-Control-Allow-Methods"])
    assert response["Access-Control-Max-Age"] == "86400"


def test_preflight_needs_no_token(api_client):
    # Browsers never send Authorization on a preflight; a 401 here would block every call.
    response = preflight(api_client, "/api/u1/tasks/", FRONTEND, method="POST")
    assert response.status_code == 200
    assert "WWW-Authenticate" not in response


def test_responses_to_the_frontend_expose_the_api_headers(auth_client):
    response = auth_client.get("/api/me/", HTTP_ORIGIN=FRONTEND)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == FRONTEND
    assert _header_set(response["Access-Control-Expose-Headers"]) == EXPOSED_HEADERS
    assert "origin" in _header_set(response["Vary"])


def test_error_responses_carry_cors_headers_so_the_browser_can_read_them(api_client):
    response = api_client.get("/api/me/", HTTP_ORIGIN=FRONTEND)
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == FRONTEND
    assert "x-request-id" in _header_set(response["Access-Control-Expose-Headers"])


def test_cookies_are_not_invited(auth_client):
    # The API authenticates with Bearer tokens; credentialed cross-origin requests stay off.
    response = auth_client.get("/api/me/", HTTP_ORIGIN=FRONTEND)
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.net",
        "http://app.example.com",  # same host, not HTTPS
        "https://app.example.com.evil.net",  # the allowed origin as a prefix
        "https://evil-app.example.com",
        "https://app.example.com:8443",
        "null",
    ],
)
def test_other_origins_get_no_cors_headers(api_client, auth_client, origin):
    answer = preflight(api_client, "/api/me/", origin)
    assert "Access-Control-Allow-Origin" not in answer
    assert "Access-Control-Allow-Headers" not in answer
    assert "Access-Control-Allow-Methods" not in answer

    response = auth_client.get("/api/me/", HTTP_ORIGIN=origin)
    assert response.status_code == 200  # CORS is the browser's guard; the server just grants nothing
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Expose-Headers" not in response


def test_pages_outside_the_api_get_no_cors_headers(client):
    response = client.get("/admin/login/", HTTP_ORIGIN=FRONTEND)
    assert "Access-Control-Allow-Origin" not in response


def test_no_origin_is_allowed_until_one_is_configured(settings, auth_client):
    settings.CORS_ALLOWED_ORIGINS = []
    response = auth_client.get("/api/me/", HTTP_ORIGIN=FRONTEND)
    assert "Access-Control-Allow-Origin" not in response
