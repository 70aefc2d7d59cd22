"""Failures the schema fuzzer (test_fuzz_schema.py, `make fuzz`) found, each kept as a plain test.

Each was written, and seen failing, before its fix; reliability/results/FINDINGS.md tells the story.
"""

import pytest

from accounts.models import USER_ID_PATTERN
from core.tests.support import assert_problem

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


@pytest.fixture
def schema(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def responses(schema, path: str, method: str) -> dict:
    return schema["paths"][path][method]["responses"]


# Found: POST /api/auth/token/ with an empty body answered 400, documented: only 200 (ST103).
@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/api/auth/register/", {"400", "404", "413", "415", "429", "500", "503"}),
        ("/api/auth/token/", {"400", "401", "403", "404", "413", "415", "429", "500", "503"}),
        ("/api/auth/token/refresh/", {"400", "401", "403", "404", "413", "415", "429", "500", "503"}),
    ],
)
def test_sign_in_routes_document_their_error_responses_as_problem_json(schema, path, statuses):
    documented = responses(schema, path, "post")
    assert statuses <= set(documented), sorted(documented)
    for status in statuses:
        assert list(documented[status]["content"]) == [PROBLEM]


def test_sign_in_with_an_empty_body_is_a_documented_400(api_client, schema):
    response = api_client.post("/api/auth/token/", b"", content_type="application/json")
    assert_problem(response, 400, "validation_error")
    assert "400" in responses(schema, "/api/auth/token/", "post")


# Found: GET /api/me/ without a token answered 401, documented: only 200 (ST103).
def test_me_documents_401_and_403_as_problem_json(api_client, schema):
    documented = responses(schema, "/api/me/", "get")
    assert {"401", "403", "429", "500", "503"} <= set(documented)
    assert_problem(api_client.get("/api/me/"), 401, "not_authenticated")


# Found (stateful phase): a generated {user_id} outside the id form matched no route, a 404 that
# no operation documents. The parameter now carries the routes' own pattern.
@pytest.mark.parametrize(
    "path", ["/api/{user_id}/tasks/", "/api/{user_id}/tasks/{id}/", "/api/{user_id}/tags/"]
)
def test_user_id_parameter_carries_the_pattern_the_routes_match(schema, path):
    operation = next(iter(schema["paths"][path].values()))
    [parameter] = [p for p in operation["parameters"] if p["name"] == "user_id"]
    assert parameter["schema"]["pattern"] == f"^{USER_ID_PATTERN}$"


def test_user_id_outside_the_pattern_is_no_route(auth_client):
    assert_problem(auth_client.post("/api/%C2%B9%1C/tasks/", {"title": "x"}, format="json"), 404, "not_found")
