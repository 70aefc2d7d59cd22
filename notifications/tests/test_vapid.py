"""`manage.py generate_vapid_keys` and the keys it prints, as the public-key route serves them."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_generate_vapid_keys_prints_a_pair_the_server_accepts(api_client, settings):
    out = StringIO()
    call_command("generate_vapid_keys", stdout=out)
    public = re.search(r"Public key.*: ([A-Za-z0-9_-]{87})$", out.getvalue(), re.M).group(1)
    private = re.search(r"Private key.*: ([A-Za-z0-9_-]{43})$", out.getvalue(), re.M).group(1)
    settings.WEBPUSH_VAPID_PRIVATE_KEY = private
    assert api_client.get("/api/push/public-key/").json() == {"public_key": public}


def test_generate_vapid_keys_env_prints_one_environment_line(settings, api_client):
    out = StringIO()
    call_command("generate_vapid_keys", "--env", stdout=out)
    line = out.getvalue().strip()
    assert re.fullmatch(r"WEBPUSH_VAPID_PRIVATE_KEY=[A-Za-z0-9_-]{43}", line)
    settings.WEBPUSH_VAPID_PRIVATE_KEY = line.split("=", 1)[1]
    assert api_client.get("/api/push/public-key/").status_code == 200
    # Each run makes a new key.
    again = StringIO()
    call_command("generate_vapid_keys", "--env", stdout=again)
    assert again.getvalue().strip() != line


def test_a_bad_subject_is_a_503_and_the_log_says_why(api_client, settings, caplog):
    settings.WEBPUSH_VAPID_SUBJECT = "admin@example.com"  # not a mailto: URL
    assert api_client.get("/api/push/public-key/").status_code == 503
    assert "WEBPUSH_VAPID_SUBJECT must be a mailto: or https: URL" in caplog.text
