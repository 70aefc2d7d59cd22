"""`manage.py mint_token`: a development token that the API accepts."""

from io import StringIO

import jwt
import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from accounts.tests.helpers import me

pytestmark = pytest.mark.django_db


def mint(*args: str) -> str:
    out = StringIO()
    call_command("mint_token", *args, stdout=out)
    return out.getvalue().strip()


def test_minted_token_is_accepted_for_a_known_user(api_client, user):
    token = mint(user.pk)
    response = me(api_client, f"Bearer {token}")
    assert response.status_code == 200
    assert response.json()["id"] == user.pk
    # The user's own email and name go into the token, so nothing changes.
    user.refresh_from_db()
    assert response.json()["email"] == user.email


def test_minted_token_for_an_unknown_id_provisions_the_user(api_client):
    token = mint("devUser-1", "--email", "dev@example.com", "--name", "Dev User")
    assert me(api_client, f"Bearer {token}").status_code == 200
    user = User.objects.get(pk="devUser-1")
    assert (user.email, user.name) == ("dev@example.com", "Dev User")


def test_ttl_sets_the_lifetime(settings):
    claims = jwt.decode(
        mint("ttlUser", "--ttl", "60"), settings.BETTER_AUTH_SECRET.encode(), algorithms=["HS256"]
    )
    assert claims["exp"] - claims["iat"] == 60
    assert claims["sub"] == "ttlUser"


@pytest.mark.parametrize("user_id", ["a/b", "ünïcode", "a" * 129, "with space"])
def test_bad_user_id_is_a_command_error(user_id):
    with pytest.raises(CommandError, match="USER_ID"):
        mint(user_id)


@pytest.mark.parametrize("ttl", ["0", "-5"])
def test_non_positive_ttl_is_a_command_error(ttl):
    with pytest.raises(CommandError, match="ttl"):
        mint("someone", "--ttl", ttl)


def test_no_secret_is_a_command_error(settings):
    settings.BETTER_AUTH_SECRET = ""
    with pytest.raises(CommandError, match="BETTER_AUTH_SECRET"):
        mint("someone")
