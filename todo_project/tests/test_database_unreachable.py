"""While the database is unreachable: the API answers 503 problem+json, /healthz stays up."""

import socket

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.helpers import me
from core.tests.support import assert_problem

pytestmark = [
    pytest.mark.postgres_only,
    # SQLite has no server to lose; its in-memory test database cannot be disconnected.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def unreachable_database():
    """The default connection pointed at a port where nothing listens, then restored."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port))
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


def test_api_answers_503_while_the_database_is_unreachable(make_token, unreachable_database):
    response = me(APIClient(), f"Bearer {make_token('anyone')}")
    body = assert_problem(response, 503, "service_unavailable")
    assert "Traceback" not in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert body["detail"]


def test_probes_while_the_database_is_unreachable(unreachable_database):
    client = APIClient()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
