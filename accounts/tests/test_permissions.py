"""IsUrlUser through the real /api/<user_id>/... routes: the URL's user id must be the token's sub."""

import pytest

from core.tests.support import assert_problem

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/{id}/tasks/"),
        ("get", "/api/{id}/tasks"),
        ("post", "/api/{id}/tasks/"),
        ("get", "/api/{id}/tasks/1/"),
        ("patch", "/api/{id}/tasks/1/"),
        ("delete", "/api/{id}/tasks/1/"),
        ("get", "/api/{id}/tags/"),
    ],
)
def test_another_users_id_in_the_url_is_403_user_mismatch(auth_client, other_user, method, path):
    response = getattr(auth_client, method)(path.format(id=other_user.pk), {"title": "x"}, format="json")
    assert_problem(response, 403, "user_mismatch")


def test_mismatch_is_decided_before_any_lookup(auth_client, django_assert_max_num_queries):
    auth_client.get("/api/me/")  # the user is known and unchanged: authentication is one query
    with django_assert_max_num_queries(1):
        response = auth_client.get("/api/NoSuchUser/tasks/12345/")
    assert_problem(response, 403, "user_mismatch")


@pytest.mark.parametrize(("sub", "url_id"), [("7", "007"), ("007", "7"), ("Alice", "alice"), ("a.b", "a-b")])
def test_ids_are_compared_exactly(api_client, make_token, sub, url_id):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(sub)}")
    assert_problem(api_client.get(f"/api/{url_id}/tasks/"), 403, "user_mismatch")
    assert api_client.get(f"/api/{sub}/tasks/").status_code == 200


def test_own_id_in_the_url_is_allowed(auth_client, user):
    assert auth_client.get(f"/api/{user.pk}/tasks/").status_code == 200


def test_no_token_is_401_not_403(api_client, user):
    response = api_client.get(f"/api/{user.pk}/tasks/")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
