"""Security settings for a deployment behind a TLS proxy: `check --deploy`, HTTPS, headers, cookies."""

import json
import subprocess
import sys

import pytest

from todo_project.tests.deploy_support import BASE_DIR, manage, production_env

PRODUCTION = {
    "DJANGO_ALLOWED_HOSTS": "api.example.com",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://api.example.com",
    "CORS_ALLOWED_ORIGINS": "https://app.example.com",
    "BETTER_AUTH_ISSUER": "https://app.example.com",
    "BETTER_AUTH_AUDIENCE": "https://api.example.com",
}


def _settings_in_subprocess(env: dict[str, str], *names: str) -> subprocess.CompletedProcess:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {list(names)!r}}}, default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_check_deploy_reports_nothing_with_the_documented_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(**PRODUCTION))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_names_what_is_missing_without_https_settings():
    env = production_env(DJANGO_ALLOWED_HOSTS="api.example.com")
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr  # HSTS
    assert "security.W008" in result.stderr  # SSL redirect


@pytest.mark.slow
@pytest.mark.parametrize("unset", ["BETTER_AUTH_ISSUER", "BETTER_AUTH_AUDIENCE"])
def test_check_deploy_warns_when_better_auths_issuer_or_audience_is_unset(unset):
    env = production_env(**{**PRODUCTION, unset: ""})
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert unset in result.stderr
    assert ("accounts.W001" if unset == "BETTER_AUTH_ISSUER" else "accounts.W002") in result.stderr


@pytest.mark.slow
def test_production_settings_come_from_the_environment():
    result = _settings_in_subprocess(
        production_env(**PRODUCTION),
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "CSRF_TRUSTED_ORIGINS",
        "CORS_ALLOWED_ORIGINS",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "CSRF_TRUSTED_ORIGINS": ["https://api.example.com"],
        "CORS_ALLOWED_ORIGINS": ["https://app.example.com"],
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_RATE_LIMIT_USER", "lots"),
        ("API_RATE_LIMIT_AUTH", "20/fortnight"),
        ("API_RATE_LIMIT_AUTH", "0/min"),
        ("DJANGO_SECURE_SSL_REDIRECT", "maybe"),
        ("DJANGO_SECURE_HSTS_SECONDS", "a year"),
        ("DJANGO_LOG_FORMAT", "xml"),
    ],
)
def test_a_malformed_setting_stops_the_process_with_its_name(name, value):
    result = _settings_in_subprocess(production_env(**{name: value}), "DEBUG")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


# --- Behaviour in the request cycle --------------------------------------------------------------
@pytest.fixture
def behind_tls_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.ALLOWED_HOSTS = ["api.example.com"]


def test_api_responses_carry_security_headers(auth_client):
    response = auth_client.get("/api/me/")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_api_errors_carry_security_headers_too(api_client):
    response = api_client.get("/api/me/")
    assert response.status_code == 401
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_https_through_the_proxy_gets_hsts(behind_tls_proxy, auth_client):
    response = auth_client.get("/api/me/", HTTP_HOST="api.example.com", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_plain_http_is_redirected_to_https(behind_tls_proxy, auth_client):
    response = auth_client.get("/api/me/", HTTP_HOST="api.example.com", HTTP_X_FORWARDED_PROTO="http")
    assert response.status_code == 301
    assert response["Location"] == "https://api.example.com/api/me/"
    assert "Strict-Transport-Security" not in response


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/healthz/"])
def test_probes_answer_over_plain_http_without_a_redirect(behind_tls_proxy, db, api_client, path):
    response = api_client.get(path, HTTP_HOST="api.example.com")
    assert response.status_code == 200


def test_a_client_cannot_claim_https_when_no_proxy_header_is_trusted(settings, auth_client):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    response = auth_client.get("/api/me/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301
    assert "Strict-Transport-Security" not in response


def test_session_and_csrf_cookies_are_secure_when_debug_is_off(client, settings):
    # pytest.ini runs the suite with DJANGO_DEBUG=false, as production does.
    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.CSRF_COOKIE_SECURE is True
    response = client.get("/admin/login/")
    assert response.cookies["csrftoken"]["secure"] is True
