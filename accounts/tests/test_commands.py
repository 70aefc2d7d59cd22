"""deactivate_user and reactivate_user, through call_command and then the real API."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def tasks_status(api_client, make_token, user) -> int:
    api_client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {make_token(user.pk, email=user.email, name=user.name)}"
    )
    return api_client.get(f"/api/{user.pk}/tasks/").status_code


def test_deactivate_user_refuses_their_valid_token_at_once(api_client, make_token):
    user = UserFactory(email="leaving@example.com")
    assert tasks_status(api_client, make_token, user) == 200
    out = run("deactivate_user", user.pk)
    assert f"Deactivated user {user.pk} <leaving@example.com>" in out
    response = api_client.get(f"/api/{user.pk}/tasks/")
    assert response.status_code == 403 and response.json()["code"] == "account_disabled"


def test_reactivate_user_accepts_their_token_again(api_client, make_token):
    user = UserFactory(is_active=False)
    assert tasks_status(api_client, make_token, user) == 403
    assert f"Reactivated user {user.pk}" in run("reactivate_user", user.pk)
    assert tasks_status(api_client, make_token, user) == 200


@pytest.mark.parametrize(("command", "active"), [("deactivate_user", True), ("reactivate_user", False)])
def test_dry_run_says_what_would_change_and_changes_nothing(command, active):
    user = UserFactory(is_active=active)
    out = run(command, user.pk, "--dry-run")
    assert out.startswith("Would ")
    user.refresh_from_db()
    assert user.is_active is active


@pytest.mark.parametrize(
    ("command", "active", "state"),
    [("deactivate_user", False, "deactivated"), ("reactivate_user", True, "active")],
)
def test_a_user_already_in_that_state_is_left_alone(command, active, state):
    user = UserFactory(is_active=active)
    assert f"is already {state}; nothing to do." in run(command, user.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["deactivate_user", "reactivate_user"])
def test_unknown_user_is_a_command_error(command):
    with pytest.raises(CommandError, match="No user with id 'nobody'"):
        run(command, "nobody")


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["deactivate_user", "reactivate_user"])
def test_missing_user_id_is_a_command_error(command):
    with pytest.raises(CommandError, match="user_id"):
        call_command(command)
