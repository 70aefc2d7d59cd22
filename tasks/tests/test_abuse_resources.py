"""Abuse of resources through the task API: huge or deep bodies, huge lists, absurd limits, tampered
cursors, search strings full of wildcard and regex characters, megabyte titles.

Each is a clear 4xx problem (or, for search, the literal matches and nothing else), never a 500,
never an echo of the payload, and answered within a bound generous enough for a busy CI machine
but far below what an unbounded query or a quadratic parse would take.
"""

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qs, quote, urlsplit

import orjson
import pytest

from core.tests.support import assert_problem, bearer_client
from tasks.models import Task
from tasks.selectors import sign_cursor_payload
from tasks.tests.api_support import create_task, ids, list_all, next_link, tasks_url
from tasks.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024
# Seconds. A healthy answer takes milliseconds; these bounds only catch the pathological.
BOUND = 10.0
# Small enough that no error body can be carrying the payload back.
MAX_ERROR_BYTES = 4096


def timed(call):
    started = time.monotonic()
    response = call()
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"answered in {elapsed:.2f} s"
    return response


def post_raw(client, url: str, body: bytes, method: str = "POST"):
    return client.generic(method, url, body, content_type="application/json")


def assert_small_problem(response, status: int, code: str, field: str | None = None) -> dict:
    body = assert_problem(response, status, code, field)
    assert len(response.content) < MAX_ERROR_BYTES, len(response.content)
    return body


@pytest.fixture
def task(auth_client, user):
    return create_task(auth_client, user.pk, title="Existing", tags=["home"])


# --- Bodies over the limit ---------------------------------------------------------------------------
def _write_routes(user_id: str, task_id: int) -> list[tuple[str, str]]:
    return [
        ("POST", tasks_url(user_id)),
        ("PUT", tasks_url(user_id, task_id)),
        ("PATCH", tasks_url(user_id, task_id)),
        ("PATCH", tasks_url(user_id, task_id, "complete")),
        ("POST", tasks_url(user_id, "bulk")),
    ]


@pytest.mark.parametrize("size", [MIB + 1, 8 * MIB], ids=["one-byte-over", "eight-mib"])
def test_body_over_the_limit_is_413_on_every_write_route(auth_client, user, task, size):
    body = b'{"title": "' + b"x" * (size - 13) + b'"}'
    for method, url in _write_routes(user.pk, task["id"]):
        response = timed(lambda method=method, url=url: post_raw(auth_client, url, body, method))
        assert_small_problem(response, 413, "payload_too_large")
    assert Task.objects.filter(user=user).count() == 1


def test_body_over_the_limit_is_413_on_the_sign_in_routes(api_client):
    body = b'{"email": "a@example.com", "password": "' + b"p" * MIB + b'"}'
    for url in ("/api/auth/register/", "/api/auth/token/", "/api/auth/token/refresh/"):
        assert_small_problem(timed(lambda url=url: post_raw(api_client, url, body)), 413, "payload_too_large")


def test_a_body_just_under_the_limit_is_parsed_and_refused_for_its_content(auth_client, user):
    body = b'{"title": "' + b"x" * (MIB - 20) + b'"}'
    assert len(body) <= MIB
    response = timed(lambda: post_raw(auth_client, tasks_url(user.pk), body))
    assert_small_problem(response, 400, "validation_error", "title")


# --- Deeply nested JSON ----------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [33, 1000, 1025, 100_000, 500_000], ids=lambda depth: f"depth-{depth}")
def test_json_nested_deeper_than_any_body_of_the_api_is_400_malformed_json(auth_client, user, depth):
    body = b"[" * depth + b"]" * depth
    response = timed(lambda: post_raw(auth_client, tasks_url(user.pk), body))
    assert_small_problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    "field", ["title", "description", "tags", "priority", "due_date", "completed", "extra"]
)
@pytest.mark.parametrize("idempotency_key", [None, "nested-key"], ids=["plain", "idempotent"])
def test_deep_nesting_in_any_field_is_refused_before_any_field_is_read(
    auth_client, user, field, idempotency_key
):
    """DRF's str() of a 1000-deep value and orjson's fingerprint of a 300-deep one used to be 500s."""
    body = b'{"title": "ok", "' + field.encode() + b'": ' + b"[" * 1000 + b"1" + b"]" * 1000 + b"}"
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    response = timed(
        lambda: auth_client.generic("POST", tasks_url(user.pk), body, "application/json", **headers)
    )
    assert_small_problem(response, 400, "malformed_json")
    assert not Task.objects.filter(user=user).exists()


@pytest.mark.parametrize("field", ["title", "description", "tags", "priority", "due_date", "completed"])
def test_nested_value_within_the_limit_is_400_naming_the_field(auth_client, user, field):
    body = b'{"title": "ok", "' + field.encode() + b'": ' + b"[" * 20 + b"1" + b"]" * 20 + b"}"
    response = timed(lambda: post_raw(auth_client, tasks_url(user.pk), body))
    assert_small_problem(response, 400, "validation_error", field)


def test_nested_unknown_field_within_the_limit_is_ignored(auth_client, user):
    body = b'{"title": "ok", "extra": ' + b'{"a":' * 30 + b"1" + b"}" * 30 + b"}"
    response = timed(
        lambda: auth_client.generic(
            "POST", tasks_url(user.pk), body, "application/json", HTTP_IDEMPOTENCY_KEY="nested-ok"
        )
    )
    assert response.status_code == 201, response.content[:300]
    assert "extra" not in response.json()


def test_deeply_nested_bulk_ids_are_400(auth_client, user):
    for depth, code in ((1000, "malformed_json"), (20, "validation_error")):
        body = b'{"action": "delete", "ids": ' + b"[" * depth + b"1" + b"]" * depth + b"}"
        response = timed(lambda body=body: post_raw(auth_client, tasks_url(user.pk, "bulk"), body))
        assert_small_problem(response, 400, code, "ids" if code == "validation_error" else None)


# --- Huge lists -----------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [21, 10_000, 60_000])
def test_too_many_tags_are_400_and_create_no_tag(auth_client, user, count):
    tags = [f"tag{n}" for n in range(count)]
    response = timed(
        lambda: auth_client.post(tasks_url(user.pk), {"title": "t", "tags": tags}, format="json")
    )
    assert_small_problem(response, 400, "validation_error", "tags")
    assert not user.tags.exists()


def test_ten_thousand_copies_of_one_tag_merge_into_one(auth_client, user):
    response = timed(
        lambda: auth_client.post(tasks_url(user.pk), {"title": "t", "tags": ["Home"] * 20}, format="json")
    )
    assert response.status_code == 201
    assert response.json()["tags"] == ["Home"]
    # Beyond what any client sends, it is refused before any per-item work.
    many = timed(
        lambda: auth_client.post(tasks_url(user.pk), {"title": "t", "tags": ["Home"] * 10_000}, format="json")
    )
    assert_small_problem(many, 400, "validation_error", "tags")


def test_ten_thousand_tag_filters_are_400(auth_client, user):
    query = "&".join(f"tag=t{n}" for n in range(10_000))
    response = timed(lambda: auth_client.get(f"{tasks_url(user.pk)}?{query}"))
    # Django refuses more than 1000 query fields before the serializer could name `tag`.
    assert_small_problem(response, 400, "validation_error")


def test_twenty_one_tag_filters_are_400_naming_tag(auth_client, user):
    response = timed(lambda: auth_client.get(tasks_url(user.pk), {"tag": [f"t{n}" for n in range(21)]}))
    assert_small_problem(response, 400, "validation_error", "tag")


@pytest.mark.parametrize("count", [501, 10_000, 100_000])
def test_bulk_with_too_many_ids_is_400_and_changes_nothing(auth_client, user, task, count):
    response = timed(
        lambda: auth_client.post(
            tasks_url(user.pk, "bulk"), {"action": "delete", "ids": list(range(1, count + 1))}, format="json"
        )
    )
    assert_small_problem(response, 400, "validation_error", "ids")
    assert Task.objects.filter(pk=task["id"]).exists()


def test_ten_thousand_unknown_query_parameters_are_not_a_500(auth_client, user, task):
    query = "&".join(f"p{n}=1" for n in range(10_000))
    response = timed(lambda: auth_client.get(f"{tasks_url(user.pk)}?{query}"))
    # Unknown parameters are ignored (docs/API.md §4), up to Django's cap on the number of fields.
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert_small_problem(response, 400, response.json()["code"])


# --- limit ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "limit",
    [str(10**9), "0", "-1", "501", "1e3", "1.5", "0x10", " ", "", "9" * 5000, "NaN", "Infinity"],
    ids=repr,
)
def test_out_of_range_or_malformed_limit_is_400_naming_it(auth_client, user, task, limit):
    response = timed(lambda: auth_client.get(tasks_url(user.pk), {"limit": limit}))
    assert_small_problem(response, 400, "validation_error", "limit")


def test_the_largest_limit_is_served(auth_client, user, task):
    response = timed(lambda: auth_client.get(tasks_url(user.pk), {"limit": "500"}))
    assert response.status_code == 200
    assert ids(response.json()) == [task["id"]]


# --- Cursors ----------------------------------------------------------------------------------------
def cursor_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["cursor"][0]


@pytest.fixture
def pages(auth_client, user) -> str:
    """Five of the user's tasks; returns the cursor of the second page of two."""
    TaskFactory.create_batch(5, user=user)
    return cursor_of(next_link(auth_client.get(tasks_url(user.pk), {"limit": 2})))


def _forged_cursor(user_id: str) -> str:
    """A cursor of our format keyed with a guess: what a client that read our source would make."""
    data = orjson.dumps(["-created", None, 1])
    mac = hmac.new(b"guessed", user_id.encode() + b"\0" + data, hashlib.sha256).digest()[:18]
    encode = base64.urlsafe_b64encode
    return f"{encode(data).rstrip(b'=').decode()}.{encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda cursor, user: cursor[:-1], id="truncated-by-one"),
        pytest.param(lambda cursor, user: cursor[: len(cursor) // 2], id="truncated-in-half"),
        pytest.param(
            lambda cursor, user: cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1],
            id="signature-flipped",
        ),
        pytest.param(lambda cursor, user: "x" + cursor, id="prefixed"),
        pytest.param(lambda cursor, user: cursor + cursor, id="doubled"),
        pytest.param(lambda cursor, user: _forged_cursor(user.pk), id="forged-with-another-salt"),
        pytest.param(
            lambda cursor, user: "WyItY3JlYXRlZCIsbnVsbCwxXQ.AAAAAAAAAAAAAAAAAAAAAAAA", id="hand-made"
        ),
        pytest.param(lambda cursor, user: "%00", id="nul"),
        pytest.param(lambda cursor, user: "c" * 2049, id="over-2-kib"),
        pytest.param(lambda cursor, user: "💥" * 100, id="emoji"),
        pytest.param(lambda cursor, user: "' OR 1=1 --", id="sql"),
    ],
)
def test_tampered_cursor_is_400_naming_it(auth_client, user, pages, tamper):
    response = timed(lambda: auth_client.get(tasks_url(user.pk), {"limit": 2, "cursor": tamper(pages, user)}))
    assert_small_problem(response, 400, "validation_error", "cursor")


def test_another_users_cursor_is_400_and_reveals_nothing(auth_client, user, other_user, make_token):
    other = bearer_client(other_user)
    TaskFactory.create_batch(3, user=other_user, title="Other's task")
    TaskFactory.create_batch(3, user=user, title="Mine")
    their_cursor = cursor_of(next_link(other.get(tasks_url(other_user.pk), {"limit": 1})))

    response = timed(lambda: auth_client.get(tasks_url(user.pk), {"limit": 1, "cursor": their_cursor}))

    assert_small_problem(response, 400, "validation_error", "cursor")
    assert b"Other" not in response.content


def test_cursor_issued_for_another_sort_is_400(auth_client, user, pages):
    response = auth_client.get(tasks_url(user.pk), {"limit": 2, "cursor": pages, "sort": "title"})
    assert_small_problem(response, 400, "validation_error", "cursor")


@pytest.mark.parametrize(
    ("sort", "payload"),
    [
        ("-created", {"v": "not a date"}),
        ("-created", {"v": ["a list"]}),
        ("-updated", {"v": 17}),
        ("priority", {"v": "high"}),
        ("priority", {"v": True}),
        ("title", {"v": 42}),
        ("-created", {"i": "1"}),
        ("-created", {"i": None}),
        ("-created", {"i": 2**64 - 1}),
        ("-created", {"i": -5}),
        ("-created", {"s": ["-created"]}),
    ],
    ids=repr,
)
def test_validly_signed_cursor_with_values_of_the_wrong_type_is_400(auth_client, user, sort, payload):
    """Only we can sign a cursor, but one from an older release could carry other shapes."""
    TaskFactory.create_batch(2, user=user)
    fields = {"s": sort, "v": None, "i": 1, **payload}
    cursor = sign_cursor_payload(user=user, payload=[fields["s"], fields["v"], fields["i"]])
    response = timed(lambda: auth_client.get(tasks_url(user.pk), {"cursor": cursor, "sort": sort}))
    assert_small_problem(response, 400, "validation_error", "cursor")


def test_an_untampered_cursor_still_works(auth_client, user, pages):
    """The control for the tampering cases: the same cursor, unmodified, gives the next page."""
    response = auth_client.get(tasks_url(user.pk), {"limit": 2, "cursor": pages})
    assert response.status_code == 200
    assert len(response.json()) == 2


# --- search -----------------------------------------------------------------------------------------
SEARCH_TITLES = ["100% done", "snake_case name", "a.b.c", "(parenthesised)", "back\\slash", "star*", "plain"]


@pytest.fixture
def searchable(user):
    tasks = {title: TaskFactory(user=user, title=title) for title in SEARCH_TITLES}
    # Volume, so that a pattern treated as a regex or LIKE wildcard would have plenty to match.
    Task.objects.bulk_create(Task(user=user, title=f"zz filler {n} abc_def 50%") for n in range(500))
    return tasks


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("%", ["100% done"]),
        ("0% d", ["100% done"]),
        ("_", ["snake_case name"]),
        ("e_c", ["snake_case name"]),
        (".", ["a.b.c"]),
        ("a.b", ["a.b.c"]),
        ("(", ["(parenthesised)"]),
        ("\\", ["back\\slash"]),
        ("*", ["star*"]),
        (".*", []),
        ("^plain$", []),
        ("[a-z]", []),
        ("a|b", []),
        ("(a+)+$", []),
        ("\\d", []),
        ("%_%", []),
        ("$1", []),
        ("{1,}", []),
    ],
    ids=repr,
)
def test_search_treats_wildcard_and_regex_characters_literally(
    auth_client, user, searchable, search, expected
):
    response = timed(
        lambda: auth_client.get(tasks_url(user.pk), {"search": search, "sort": "title", "limit": 10})
    )
    assert response.status_code == 200, response.content[:300]
    # Sorted by title, the test's own tasks come before the fillers: every one of them is on page one.
    titles = [task["title"] for task in response.json() if not task["title"].startswith("zz filler")]
    assert sorted(titles) == sorted(expected)
    fillers = 500 if search in ("%", "_") else 0  # the fillers contain these two literally
    assert response["X-Total-Count"] == str(fillers + len(expected))


@pytest.mark.parametrize(
    "search",
    ["(" * 200, "a" * 199 + "*", "(a|aa)*" * 28, "\\" * 200, "%" * 200, "_" * 200],
    ids=lambda s: s[:12],
)
def test_pathological_search_of_the_maximum_length_is_fast(auth_client, user, searchable, search):
    response = timed(lambda: auth_client.get(tasks_url(user.pk), {"search": search[:200]}))
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    "search", ["x" * 201, "x" * MIB, "a\x00b", "\x1b[31m"], ids=["201", "one-mib", "nul", "escape"]
)
def test_overlong_or_control_character_search_is_400(auth_client, user, search):
    response = timed(lambda: auth_client.get(f"{tasks_url(user.pk)}?search={quote(search)}"))
    assert_small_problem(response, 400, "validation_error", "search")


# --- Megabyte strings --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "t" * 1_000_000),
        ("title", "😀" * 250_000),
        ("title", " " * 1_000_000),
        ("description", "d" * 1_000_000),
        ("tags", ["t" * 1_000_000]),
        ("priority", "p" * 1_000_000),
        ("due_date", "2026-" * 200_000),
    ],
    ids=["title", "emoji-title", "blank-title", "description", "tag", "priority", "due-date"],
)
def test_megabyte_string_in_a_field_is_400_naming_it(auth_client, user, task, field, value):
    body = {"title": "ok", field: value}
    created = timed(lambda: auth_client.post(tasks_url(user.pk), body, format="json"))
    assert_small_problem(created, 400, "validation_error", field)
    updated = timed(lambda: auth_client.patch(tasks_url(user.pk, task["id"]), {field: value}, format="json"))
    assert_small_problem(updated, 400, "validation_error", field)
    assert Task.objects.filter(user=user).count() == 1
    assert list_all(auth_client, tasks_url(user.pk))[0]["title"] == "Existing"


def test_megabyte_idempotency_key_is_a_clean_4xx(auth_client, user):
    response = timed(
        lambda: auth_client.post(
            tasks_url(user.pk), {"title": "t"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * MIB
        )
    )
    assert_small_problem(response, 400, "validation_error", "Idempotency-Key")
    assert not Task.objects.filter(user=user).exists()


def test_megabyte_if_match_is_412_and_changes_nothing(auth_client, user, task):
    url = tasks_url(user.pk, task["id"])
    for if_match in ('"999", ' * 200_000, "x" * MIB):
        response = timed(
            lambda if_match=if_match: auth_client.patch(
                url, {"title": "new"}, format="json", HTTP_IF_MATCH=if_match
            )
        )
        assert_small_problem(response, 412, "precondition_failed")
    assert list_all(auth_client, tasks_url(user.pk))[0]["title"] == "Existing"


def test_json_body_of_a_megabyte_of_keys_is_handled(auth_client, user):
    body = orjson.dumps({"title": "many keys", **{f"k{n}": n for n in range(70_000)}})
    assert len(body) < MIB
    response = timed(lambda: post_raw(auth_client, tasks_url(user.pk), body))
    assert response.status_code == 201
    assert response.json()["title"] == "many keys"
