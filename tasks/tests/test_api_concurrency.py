"""ETag, If-None-Match and If-Match: conditional reads and writes without lost updates."""

import pytest

from core.tests.support import assert_problem, bearer_client
from tasks.tests.api_support import (
    create_task,
    get_task,
    postgres_only,
    run_concurrently,
    tags_url,
    tasks_url,
)

pytestmark = pytest.mark.django_db

STALE = '"999999"'


@pytest.fixture
def task(auth_client, user):
    return create_task(auth_client, user.pk, title="Shared list", tags=["home"], priority="low")


def write(client, user_id, task_id, kind, **headers):
    """One conditional write of each kind the contract lets `If-Match` guard."""
    url = tasks_url(user_id, task_id)
    if kind == "put":
        return client.put(url, {"title": "Put"}, format="json", **headers)
    if kind == "patch":
        return client.patch(url, {"title": "Patched"}, format="json", **headers)
    if kind == "delete":
        return client.delete(url, **headers)
    return client.patch(tasks_url(user_id, task_id, "complete"), **headers)


WRITES = pytest.mark.parametrize("kind", ["put", "patch", "delete", "complete"])


# --- ETag ----------------------------------------------------------------------------------------
def test_etag_is_strong_and_is_the_quoted_version(auth_client, user, task):
    response = auth_client.get(tasks_url(user.pk, task["id"]))

    etag = response["ETag"]
    assert not etag.startswith("W/")
    assert etag == f'"{task["version"]}"'


def test_create_update_and_detail_agree_on_the_etag(auth_client, user):
    created = auth_client.post(tasks_url(user.pk), {"title": "One"}, format="json")
    url = tasks_url(user.pk, created.json()["id"])
    patched = auth_client.patch(url, {"title": "Two"}, format="json")
    put = auth_client.put(url, {"title": "Three"}, format="json")
    completed = auth_client.patch(tasks_url(user.pk, created.json()["id"], "complete"))

    etags = [created["ETag"], patched["ETag"], put["ETag"], completed["ETag"]]
    assert len(set(etags)) == 4
    assert auth_client.get(url)["ETag"] == completed["ETag"] == f'"{completed.json()["version"]}"'


def test_etag_does_not_change_when_a_write_changes_nothing(auth_client, user, task):
    url = tasks_url(user.pk, task["id"])
    before = auth_client.get(url)["ETag"]

    after = auth_client.patch(url, {"title": task["title"], "tags": task["tags"]}, format="json")["ETag"]

    assert after == before


# --- If-None-Match -------------------------------------------------------------------------------
@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
def test_if_none_match_with_the_current_etag_is_304_without_a_body(auth_client, user, task, slash):
    url = tasks_url(user.pk, task["id"], slash=slash)
    etag = auth_client.get(url)["ETag"]

    response = auth_client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_if_none_match_with_one_of_several_etags_is_304(auth_client, user, task):
    url = tasks_url(user.pk, task["id"])
    etag = auth_client.get(url)["ETag"]

    assert auth_client.get(url, HTTP_IF_NONE_MATCH=f'"abc", {etag}').status_code == 304


def test_if_none_match_with_an_old_etag_is_200_with_the_new_body(auth_client, user, task):
    url = tasks_url(user.pk, task["id"])
    old = auth_client.get(url)["ETag"]
    auth_client.patch(url, {"title": "Changed"}, format="json")

    response = auth_client.get(url, HTTP_IF_NONE_MATCH=old)

    assert response.status_code == 200
    assert response.json()["title"] == "Changed"
    assert response["ETag"] != old


# --- If-Match ------------------------------------------------------------------------------------
@WRITES
def test_stale_if_match_is_412_and_changes_nothing(auth_client, user, task, kind):
    response = write(auth_client, user.pk, task["id"], kind, HTTP_IF_MATCH=STALE)

    assert_problem(response, 412, "precondition_failed")
    assert get_task(auth_client, user.pk, task["id"]) == task


@WRITES
def test_current_if_match_lets_the_write_through(auth_client, user, task, kind):
    etag = auth_client.get(tasks_url(user.pk, task["id"]))["ETag"]

    response = write(auth_client, user.pk, task["id"], kind, HTTP_IF_MATCH=etag)

    assert response.status_code == (204 if kind == "delete" else 200), response.content
    if kind != "delete":
        assert response.json()["version"] == task["version"] + 1
        assert response["ETag"] != etag


@WRITES
def test_if_match_listing_the_current_etag_among_others_lets_the_write_through(auth_client, user, task, kind):
    etag = auth_client.get(tasks_url(user.pk, task["id"]))["ETag"]

    response = write(auth_client, user.pk, task["id"], kind, HTTP_IF_MATCH=f'"0", {etag}')

    assert response.status_code in (200, 204), response.content


@WRITES
def test_weak_etag_in_if_match_is_412(auth_client, user, task, kind):
    """If-Match uses the strong comparison (RFC 9110 §13.1.1): W/"1" never matches "1"."""
    etag = auth_client.get(tasks_url(user.pk, task["id"]))["ETag"]

    response = write(auth_client, user.pk, task["id"], kind, HTTP_IF_MATCH=f"W/{etag}")

    assert_problem(response, 412, "precondition_failed")
    assert get_task(auth_client, user.pk, task["id"]) == task


def test_second_writer_with_the_same_etag_gets_412_instead_of_overwriting(auth_client, user, task):
    url = tasks_url(user.pk, task["id"])
    etag = auth_client.get(url)["ETag"]

    first = auth_client.patch(url, {"title": "Alice's edit"}, format="json", HTTP_IF_MATCH=etag)
    second = auth_client.patch(url, {"title": "Bob's edit"}, format="json", HTTP_IF_MATCH=etag)

    assert first.status_code == 200
    assert_problem(second, 412, "precondition_failed")
    assert get_task(auth_client, user.pk, task["id"])["title"] == "Alice's edit"


def test_without_if_match_the_last_write_wins(auth_client, user, task):
    url = tasks_url(user.pk, task["id"])

    auth_client.patch(url, {"title": "first"}, format="json")
    auth_client.patch(url, {"title": "second"}, format="json")

    assert get_task(auth_client, user.pk, task["id"])["title"] == "second"


def test_if_match_on_a_no_op_write_with_the_current_etag_succeeds(auth_client, user, task):
    url = tasks_url(user.pk, task["id"])
    etag = auth_client.get(url)["ETag"]

    response = auth_client.patch(url, {"title": task["title"]}, format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response["ETag"] == etag


# --- truly concurrent writers (PostgreSQL) -------------------------------------------------------
@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writers", [2, 4])
def test_concurrent_writers_with_one_etag_exactly_one_wins(user, make_token, writers):
    client = bearer_client(user)
    task = create_task(client, user.pk, title="Race")
    url = tasks_url(user.pk, task["id"])
    etag = client.get(url)["ETag"]

    def writer(n: int):
        return lambda: bearer_client(user).patch(
            url, {"title": f"writer {n}"}, format="json", HTTP_IF_MATCH=etag
        )

    responses = run_concurrently(*(writer(n) for n in range(writers)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * (writers - 1), statuses
    winner = next(response.json()["title"] for response in responses if response.status_code == 200)
    final = get_task(client, user.pk, task["id"])
    assert final["title"] == winner
    assert final["version"] == task["version"] + 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_toggles_are_each_applied_once(user, make_token):
    client = bearer_client(user)
    task = create_task(client, user.pk, title="Toggle me")
    url = tasks_url(user.pk, task["id"], "complete")
    toggles = 5

    responses = run_concurrently(*(lambda: bearer_client(user).patch(url) for _ in range(toggles)))

    assert [response.status_code for response in responses] == [200] * toggles
    final = get_task(client, user.pk, task["id"])
    assert final["completed"] is (toggles % 2 == 1)
    assert final["version"] == task["version"] + toggles
    assert sorted(response.json()["version"] for response in responses) == list(range(2, 2 + toggles))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_patches_of_different_fields_both_persist(user, make_token):
    """Without If-Match the last write wins per field; a PATCH never reverts a field it did not send."""
    client = bearer_client(user)
    for _ in range(3):
        task = create_task(client, user.pk, title="Before", priority="none", tags=["old"])
        url = tasks_url(user.pk, task["id"])
        bodies = [{"title": "After"}, {"priority": "high"}, {"description": "added"}, {"tags": ["new"]}]

        responses = run_concurrently(
            *(lambda body=body: bearer_client(user).patch(url, body, format="json") for body in bodies)
        )

        assert [response.status_code for response in responses] == [200] * len(bodies)
        final = get_task(client, user.pk, task["id"])
        assert (final["title"], final["priority"], final["description"], final["tags"]) == (
            "After",
            "high",
            "added",
            ["new"],
        )
        assert final["version"] == task["version"] + len(bodies)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_tag_replacements_leave_one_whole_set(user, make_token):
    client = bearer_client(user)
    task = create_task(client, user.pk, title="Tagged", tags=["start"])
    url = tasks_url(user.pk, task["id"])
    sets = [["a1", "a2", "a3"], ["b1", "b2"], ["c1"]]

    run_concurrently(
        *(lambda tags=tags: bearer_client(user).patch(url, {"tags": tags}, format="json") for tags in sets)
    )

    assert get_task(client, user.pk, task["id"])["tags"] in sets


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_new_tag_make_one_tag(user, make_token):
    spellings = ["Shared", "SHARED", "shared", "sHaReD"]

    responses = run_concurrently(
        *(
            lambda name=name: bearer_client(user).post(
                tasks_url(user.pk), {"title": f"uses {name}", "tags": [name, f"own-{name}"]}, format="json"
            )
            for name in spellings
        )
    )

    assert [response.status_code for response in responses] == [201] * len(spellings)
    spelled = {response.json()["tags"][-1] for response in responses}
    assert len(spelled) == 1
    assert spelled <= set(spellings)
    tags = bearer_client(user).get(tags_url(user.pk)).json()
    assert [tag for tag in tags if tag["name"].lower() == "shared"] == [
        {"name": spelled.pop(), "task_count": len(spellings)}
    ]
