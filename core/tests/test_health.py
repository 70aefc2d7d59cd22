"""The probes: /healthz never touches the database, /readyz asks it."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
def test_healthz_is_200_without_touching_the_database(api_client, django_assert_num_queries, path):
    with django_assert_num_queries(0):
        response = api_client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/readyz", "/readyz/"])
def test_readyz_is_200_when_the_database_answers(api_client, django_assert_num_queries, path):
    with django_assert_num_queries(1):
        response = api_client.get(path)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_probes_ignore_a_bad_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer broken")
    assert api_client.get("/healthz").status_code == 200
    assert api_client.get("/readyz").status_code == 200


def test_probes_refuse_writes(api_client):
    assert api_client.post("/healthz").status_code == 405
