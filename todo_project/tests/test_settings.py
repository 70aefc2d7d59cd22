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
        ({"BETTER_AUTH_SECRET": "", "BETTER_AUTH_JWKS_URL": JWKS_URL}, "BETTER_AUTH_SECRET"),
    ],
    ids=[
        "no-secret-key",
        "empty-secret-key",
        "no-secret",
        "empty-secret",
        "short-secret",
        "public-fallback",
        "jwks-with-standalone-mode",
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
