"""With debug off the process refuses to start on a missing or weak secret, naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
GOOD_SECRET = "a-private-better-auth-secret-of-64-chars-0123456789abcdef0123456"
JWKS_URL = "https://app.example.com/api/auth/jwks"
GOOD_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "a-long-random-django-secret-key-for-this-test-only-0123456789",
    "BETTER_AUTH_SECRET": GOOD_SECRET,
}

pytestmark = pytest.mark.slow


def manage_check(**variables: str | None) -> subprocess.CompletedProcess:
    """`manage.py check` in a clean environment: GOOD_ENV with these changes (None removes)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(GOOD_ENV)
    for name, value in variables.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_starts_with_a_good_configuration():
    result = manage_check()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        ({"BETTER_AUTH_SECRET": None}, "BETTER_AUTH_SECRET"),
        ({"BETTER_AUTH_SECRET": ""}, "BETTER_AUTH_SECRET"),
        ({"BETTER_AUTH_SECRET": "s" * 31}, "BETTER_AUTH_SECRET"),
        ({"BETTER_AUTH_SECRET": "better-auth-secret-12345678901234567890"}, "BETTER_AUTH_SECRET"),
        # A JWKS URL alone is not enough while standalone mode still signs with the secret.
        (
            {"BETTER_AUTH_SECRET": "", "BETTER_AUTH_JWKS_URL": JWKS_URL, "LOCAL_AUTH_ENABLED": "true"},
            "BETTER_AUTH_SECRET",
        ),
        # Our own issuer must never be Better Auth's.
        (
            {"BETTER_AUTH_ISSUER": "https://app.example.com", "LOCAL_AUTH_ISSUER": "https://app.example.com"},
            "LOCAL_AUTH_ISSUER",
        ),
    ],
    ids=[
        "no-secret-key",
        "empty-secret-key",
        "no-secret",
        "empty-secret",
        "short-secret",
        "public-fallback",
        "jwks-with-standalone-mode",
        "same-issuer",
    ],
)
def test_refuses_to_start_naming_the_variable(variables, named):
    result = manage_check(**variables)
    assert result.returncode != 0
    assert named in result.stderr


def test_jwks_only_mode_needs_no_shared_secret():
    result = manage_check(
        BETTER_AUTH_SECRET=None,
        BETTER_AUTH_JWKS_URL=JWKS_URL,
        LOCAL_AUTH_ENABLED="false",
    )
    assert result.returncode == 0, result.stderr


def test_debug_mode_starts_with_nothing_set():
    # `make run`: a clearly-marked development secret, never used with debug off.
    result = manage_check(DJANGO_DEBUG="true", DJANGO_SECRET_KEY=None, BETTER_AUTH_SECRET=None)
    assert result.returncode == 0, result.stderr


def _setting(name: str, **variables: str | None) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(GOOD_ENV)
    for key, value in variables.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "todo_project.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(("debug", "expected"), [("false", "False"), ("true", "True")])
def test_standalone_mode_is_on_by_default_only_with_debug_on(debug, expected):
    assert _setting("LOCAL_AUTH_ENABLED", DJANGO_DEBUG=debug, LOCAL_AUTH_ENABLED=None) == expected


def test_a_production_deployment_can_opt_in_to_standalone_mode():
    assert _setting("LOCAL_AUTH_ENABLED", LOCAL_AUTH_ENABLED="true") == "True"


def test_our_issuer_defaults_to_one_derived_from_the_site():
    issuer = _setting("LOCAL_AUTH_ISSUER", DJANGO_ALLOWED_HOSTS=".api.example.com,localhost")
    assert issuer == "urn:todo-backend:api.example.com"
    assert (
        _setting("LOCAL_AUTH_ISSUER", LOCAL_AUTH_ISSUER="https://api.example.com")
        == "https://api.example.com"
    )
