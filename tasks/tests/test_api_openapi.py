"""The OpenAPI document of the task routes, and the docs UI served without any CDN."""

import re

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

LIST_PARAMETERS = {
    "status",
    "priority",
    "tag",
    "search",
    "due_before",
    "due_after",
    "overdue",
    "updated_since",
    "sort",
    "limit",
    "cursor",
}
# Every task route and its methods, by path with the parameter names removed.
TASK_ROUTES = {
    "/api/{}/tasks": {"get", "post"},
    "/api/{}/tasks/{}": {"get", "put", "patch", "delete"},
    "/api/{}/tasks/{}/complete": {"patch"},
    "/api/{}/tasks/bulk": {"post"},
    "/api/{}/tasks/stats": {"get"},
    "/api/{}/tags": {"get"},
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture
def schema(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return response.json()


def shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path).rstrip("/")


def operation(schema, route, method):
    for path, item in schema["paths"].items():
        if shape(path) == route:
            return item[method]
    raise AssertionError(f"{route} is not documented")


def parameter_names(op, location):
    return {parameter["name"] for parameter in op.get("parameters", []) if parameter["in"] == location}


def test_schema_is_a_valid_openapi_document(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")


def test_schema_is_served_without_a_token_with_and_without_slash(api_client):
    assert api_client.get("/api/schema", {"format": "json"}).status_code == 200
    assert api_client.get("/api/schema/", {"format": "json"}).status_code == 200


def test_every_task_route_and_method_is_documented(schema):
    documented = {}
    for path, item in schema["paths"].items():
        documented.setdefault(shape(path), set()).update(set(item) & HTTP_METHODS)

    for route, methods in TASK_ROUTES.items():
        assert methods <= documented.get(route, set()), route


def test_task_routes_require_the_bearer_scheme(schema):
    schemes = schema["components"]["securitySchemes"]
    bearer = [
        name
        for name, scheme in schemes.items()
        if scheme.get("type") == "http" and scheme.get("scheme") == "bearer"
    ]
    assert bearer
    for route, methods in TASK_ROUTES.items():
        for method in methods:
            security = operation(schema, route, method).get("security", schema.get("security", []))
            assert any(set(requirement) & set(bearer) for requirement in security), (route, method)


def test_every_list_parameter_is_documented(schema):
    assert parameter_names(operation(schema, "/api/{}/tasks", "get"), "query") >= LIST_PARAMETERS


def test_conditional_and_idempotency_headers_are_documented(schema):
    assert "Idempotency-Key" in parameter_names(operation(schema, "/api/{}/tasks", "post"), "header")
    assert "If-None-Match" in parameter_names(operation(schema, "/api/{}/tasks/{}", "get"), "header")
    for route, method in [
        ("/api/{}/tasks/{}", "put"),
        ("/api/{}/tasks/{}", "patch"),
        ("/api/{}/tasks/{}", "delete"),
        ("/api/{}/tasks/{}/complete", "patch"),
    ]:
        assert "If-Match" in parameter_names(operation(schema, route, method), "header"), (route, method)


def test_response_headers_are_documented(schema):
    created = operation(schema, "/api/{}/tasks", "post")["responses"]["201"]
    listed = operation(schema, "/api/{}/tasks", "get")["responses"]["200"]

    assert {"Location", "ETag"} <= set(created.get("headers", {}))
    assert {"Link", "X-Total-Count"} <= set(listed.get("headers", {}))
    assert "ETag" in operation(schema, "/api/{}/tasks/{}", "get")["responses"]["200"].get("headers", {})


@pytest.mark.parametrize(
    ("route", "method", "statuses"),
    [
        ("/api/{}/tasks", "get", {"400", "401", "403"}),
        ("/api/{}/tasks", "post", {"400", "401", "403", "415", "422"}),
        ("/api/{}/tasks/{}", "get", {"304", "401", "403", "404"}),
        ("/api/{}/tasks/{}", "put", {"400", "404", "412"}),
        ("/api/{}/tasks/{}", "patch", {"400", "404", "412"}),
        ("/api/{}/tasks/{}", "delete", {"204", "404", "412"}),
        ("/api/{}/tasks/{}/complete", "patch", {"400", "404", "412"}),
        ("/api/{}/tasks/bulk", "post", {"400", "401", "403"}),
        ("/api/{}/tasks/stats", "get", {"401", "403"}),
        ("/api/{}/tags", "get", {"401", "403"}),
    ],
)
def test_error_responses_are_documented_as_problem_json(schema, route, method, statuses):
    responses = operation(schema, route, method)["responses"]

    assert statuses <= set(responses)
    for status in statuses - {"204", "304"}:
        if status.startswith("4"):
            assert "application/problem+json" in responses[status].get("content", {}), (route, method, status)


def test_task_schema_documents_every_field(schema):
    task = operation(schema, "/api/{}/tasks/{}", "get")["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    name = task["$ref"].rsplit("/", 1)[-1]

    fields = set(schema["components"]["schemas"][name]["properties"])

    assert fields == {
        "id",
        "user_id",
        "title",
        "description",
        "completed",
        "completed_at",
        "priority",
        "due_date",
        "tags",
        "version",
        "created_at",
        "updated_at",
        "recurrence",
        "timezone",
        "next_task_id",
        "reminders",
    }


@pytest.mark.parametrize("url", ["/api/docs/", "/api/docs"])
def test_docs_ui_is_served_without_any_cdn(api_client, url):
    response = api_client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    for cdn in ("cdn.", "unpkg", "jsdelivr", "cdnjs", "googleapis"):
        assert cdn not in html, cdn
    assert "swagger-ui" in html
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert scripts
    assert all(src.startswith("/") and not src.startswith("//") for src in scripts), scripts


# --- Served once per process, docs under a CSP (issue 12) ------------------------------------------
def test_the_schema_is_generated_once_per_process(api_client, monkeypatch):
    from drf_spectacular.generators import SchemaGenerator

    from core.schema import CachedSchemaView

    CachedSchemaView._schemas.clear()
    calls = []
    original = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)
    first = api_client.get("/api/schema/", {"format": "json"})
    second = api_client.get("/api/schema", {"format": "json"})
    yaml = api_client.get("/api/schema/")
    assert first.status_code == second.status_code == yaml.status_code == 200
    assert first.json() == second.json()
    assert len(calls) == 1


def test_the_docs_page_sends_a_content_security_policy_without_inline_scripts(api_client):
    page = api_client.get("/api/docs/")
    assert page.status_code == 200
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    html = page.content.decode()
    assert "<script>" not in html  # every script has a src on this origin
    script = api_client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
