"""The field table of docs/API.md §3: every rule and its boundary, on create, PATCH and PUT alike."""

from datetime import datetime

import pytest

from core.tests.support import assert_problem
from tasks.tests.api_support import create_task, get_task, tasks_url

pytestmark = pytest.mark.django_db

CONTROL_CHARACTERS = {
    "NUL": "\x00",
    "SOH": "\x01",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "C1 NEL": "\x85",
    "C1 APC": "\x9f",
}
# Allowed in a description only; still control characters everywhere else.
DESCRIPTION_WHITESPACE = {"tab": "\t", "newline": "\n", "CR": "\r"}
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 7 code points, 1 glyph
assert len(FAMILY) == 7


class Writer:
    """Sends fields through one write route and checks that a rejected write changed nothing."""

    def __init__(self, mode, client, user):
        self.mode, self.client, self.user = mode, client, user
        self.existing = None
        if mode != "create":
            self.existing = create_task(client, user.pk, title="Existing", tags=["keep"], priority="low")

    def send(self, **fields):
        if self.mode == "create":
            return self.client.post(tasks_url(self.user.pk), {"title": "Task", **fields}, format="json")
        url = tasks_url(self.user.pk, self.existing["id"])
        if self.mode == "put":
            return self.client.put(url, {"title": "Task", **fields}, format="json")
        return self.client.patch(url, fields, format="json")

    def assert_nothing_written(self):
        if self.mode == "create":
            assert self.client.get(tasks_url(self.user.pk)).json() == []
        else:
            assert get_task(self.client, self.user.pk, self.existing["id"]) == self.existing


@pytest.fixture(params=["create", "put", "patch"])
def writer(request, auth_client, user):
    return Writer(request.param, auth_client, user)


def accepted(response):
    assert response.status_code in (200, 201), response.content
    return response.json()


def rejected(writer, response, field):
    body = assert_problem(response, 400, "validation_error", field)
    writer.assert_nothing_written()
    return body


# --- title ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("a" * 200, "a" * 200),
        (" \t\n" + "b" * 200 + "\n\t ", "b" * 200),
        ("\U0001f600" * 200, "\U0001f600" * 200),
        (FAMILY * 28 + "abcd", FAMILY * 28 + "abcd"),
        ("x", "x"),
    ],
    ids=["200-ascii", "200-after-trimming", "200-emoji", "200-code-points-of-zwj-sequences", "1"],
)
def test_title_of_1_to_200_code_points_after_trimming_is_accepted(writer, sent, stored):
    assert accepted(writer.send(title=sent))["title"] == stored


@pytest.mark.parametrize(
    "sent",
    ["a" * 201, " " + "a" * 201 + " ", "\U0001f600" * 201, FAMILY * 28 + "abcde"],
    ids=["201-ascii", "201-after-trimming", "201-emoji", "201-code-points"],
)
def test_title_over_200_code_points_is_400(writer, sent):
    rejected(writer, writer.send(title=sent), "title")


@pytest.mark.parametrize("sent", ["", " ", "\t\n\r  ", None], ids=["empty", "space", "whitespace", "null"])
def test_blank_or_null_title_is_400(writer, sent):
    rejected(writer, writer.send(title=sent), "title")


@pytest.mark.parametrize("char", CONTROL_CHARACTERS.values(), ids=CONTROL_CHARACTERS.keys())
def test_title_with_a_control_character_is_400(writer, char):
    rejected(writer, writer.send(title=f"bad{char}title"), "title")


@pytest.mark.parametrize("char", DESCRIPTION_WHITESPACE.values(), ids=DESCRIPTION_WHITESPACE.keys())
def test_title_with_tab_newline_or_cr_inside_is_400(writer, char):
    rejected(writer, writer.send(title=f"two{char}lines"), "title")


# --- description ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text", ["d" * 1000, "\u00e9" * 1000, "\U0001f600" * 1000], ids=["ascii", "e-acute", "emoji"]
)
def test_description_of_1000_code_points_is_accepted(writer, text):
    assert accepted(writer.send(description=text))["description"] == text


@pytest.mark.parametrize("text", ["d" * 1001, "\U0001f600" * 1001], ids=["ascii", "emoji"])
def test_description_over_1000_code_points_is_400(writer, text):
    rejected(writer, writer.send(description=text), "description")


def test_description_keeps_tab_newline_and_carriage_return(writer):
    text = "line one\n\tindented\r\nline three"

    assert accepted(writer.send(description=text))["description"] == text


@pytest.mark.parametrize(
    "char",
    [*CONTROL_CHARACTERS.values(), "\x0b", "\x0c"],
    ids=[*CONTROL_CHARACTERS.keys(), "VT", "FF"],
)
def test_description_with_another_control_character_is_400(writer, char):
    rejected(writer, writer.send(description=f"bad{char}text"), "description")


def test_description_defaults_to_empty_string(auth_client, user):
    assert create_task(auth_client, user.pk)["description"] == ""


# --- tags ----------------------------------------------------------------------------------------
def test_twenty_tags_are_accepted(writer):
    tags = [f"tag{n:02d}" for n in range(20)]

    assert accepted(writer.send(tags=tags))["tags"] == tags


def test_twenty_one_tags_are_400(writer):
    rejected(writer, writer.send(tags=[f"tag{n:02d}" for n in range(21)]), "tags")


def test_the_tag_limit_counts_tags_after_merging_duplicates(writer):
    tags = [f"tag{n:02d}" for n in range(20)] + ["TAG00", " tag01 "]

    assert accepted(writer.send(tags=tags))["tags"] == [f"tag{n:02d}" for n in range(20)]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("t" * 50, "t" * 50), ("  " + "t" * 50 + "\t", "t" * 50), ("\U0001f600" * 50, "\U0001f600" * 50)],
    ids=["50-ascii", "50-after-trimming", "50-emoji"],
)
def test_tag_of_50_code_points_is_accepted(writer, sent, stored):
    assert accepted(writer.send(tags=[sent]))["tags"] == [stored]


@pytest.mark.parametrize("sent", ["t" * 51, "\U0001f600" * 51], ids=["51-ascii", "51-emoji"])
def test_tag_over_50_code_points_is_400(writer, sent):
    rejected(writer, writer.send(tags=["fine", sent]), "tags")


@pytest.mark.parametrize("sent", ["", "   ", "\t\n"], ids=["empty", "spaces", "whitespace"])
def test_blank_tag_is_400(writer, sent):
    rejected(writer, writer.send(tags=["fine", sent]), "tags")


@pytest.mark.parametrize(
    "char", [*CONTROL_CHARACTERS.values(), "\t", "\n"], ids=[*CONTROL_CHARACTERS, "tab", "LF"]
)
def test_tag_with_a_control_character_inside_is_400(writer, char):
    rejected(writer, writer.send(tags=[f"bad{char}tag"]), "tags")


@pytest.mark.parametrize("sent", ["home", {"name": "home"}, [None], [{"name": "home"}], [["home"]]], ids=repr)
def test_tags_that_are_not_a_list_of_strings_are_400(writer, sent):
    rejected(writer, writer.send(tags=sent), "tags")


def test_tags_are_trimmed_merged_case_insensitively_and_sorted_case_insensitively(writer):
    task = accepted(writer.send(tags=[" gamma", "Beta\t", "alpha", "BETA", "Delta", "beta ", "gamma"]))

    assert task["tags"] == ["alpha", "Beta", "Delta", "gamma"]


def test_non_ascii_tags_merge_case_insensitively(writer):
    assert accepted(writer.send(tags=["\u00c4rger", "\u00e4rger", "\u00c9t\u00e9", "\u00e9t\u00e9"]))[
        "tags"
    ] == [
        "\u00c4rger",
        "\u00c9t\u00e9",
    ]


def test_a_tag_keeps_the_spelling_the_user_first_gave_it_on_any_task(auth_client, user):
    first = create_task(auth_client, user.pk, title="first", tags=["Home"])

    second = create_task(auth_client, user.pk, title="second", tags=["HOME", "work"])
    patched = auth_client.patch(tasks_url(user.pk, first["id"]), {"tags": ["home", "WORK"]}, format="json")

    assert second["tags"] == ["Home", "work"]
    assert patched.json()["tags"] == ["Home", "work"]
    assert get_task(auth_client, user.pk, second["id"])["tags"] == ["Home", "work"]


def test_tags_default_to_an_empty_list(auth_client, user):
    assert create_task(auth_client, user.pk)["tags"] == []


# --- due_date ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "returned"),
    [
        ("2026-12-01T17:00:00+02:00", "2026-12-01T15:00:00Z"),
        ("2026-12-01T17:00:00Z", "2026-12-01T17:00:00Z"),
        ("2026-12-01T17:00:00+00:00", "2026-12-01T17:00:00Z"),
        ("2026-12-01T20:00:00-05:30", "2026-12-02T01:30:00Z"),
    ],
)
def test_due_date_with_an_offset_is_returned_in_utc_with_z(writer, sent, returned):
    assert accepted(writer.send(due_date=sent))["due_date"] == returned


def test_due_date_keeps_microseconds(writer):
    due = accepted(writer.send(due_date="2026-12-01T17:00:00.123456+01:00"))["due_date"]

    assert due.endswith("Z")
    assert datetime.fromisoformat(due) == datetime.fromisoformat("2026-12-01T16:00:00.123456+00:00")


@pytest.mark.parametrize("sent", ["2026-12-01T17:00:00", "2026-12-01"], ids=["naive", "bare-date"])
def test_due_date_without_an_offset_is_400_saying_why(writer, sent):
    body = rejected(writer, writer.send(due_date=sent), "due_date")

    message = " ".join(body["errors"]["due_date"]).lower()
    assert "offset" in message or "zone" in message, message


@pytest.mark.parametrize(
    "sent",
    ["tomorrow", "2026-13-01T00:00:00Z", "2026-12-01T25:00:00Z", 1764608400, True, ["2026-12-01T17:00:00Z"]],
)
def test_due_date_that_is_not_a_date_time_is_400(writer, sent):
    rejected(writer, writer.send(due_date=sent), "due_date")


@pytest.mark.parametrize(
    "sent",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:30:00-05:00",
        "10000-01-01T00:00:00Z",
        "2026-12-01T17:00:00+24:00",
    ],
    ids=["underflows-utc", "overflows-utc", "year-10000", "offset-24h"],
)
def test_due_date_outside_the_representable_range_is_400_not_500(writer, sent):
    rejected(writer, writer.send(due_date=sent), "due_date")


@pytest.mark.parametrize(
    ("sent", "returned"),
    [("0001-01-01T01:00:00+01:00", "0001-01-01T00:00:00Z"), ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z")],
    ids=["earliest", "latest"],
)
def test_due_date_at_the_edges_of_the_range_round_trips(writer, sent, returned):
    assert accepted(writer.send(due_date=sent))["due_date"] == returned


def test_due_date_null_is_accepted_and_clears_it(auth_client, user):
    task = create_task(auth_client, user.pk, due_date="2026-12-01T17:00:00Z")

    response = auth_client.patch(tasks_url(user.pk, task["id"]), {"due_date": None}, format="json")

    assert response.json()["due_date"] is None
    assert get_task(auth_client, user.pk, task["id"])["due_date"] is None


# --- priority and completed ----------------------------------------------------------------------
@pytest.mark.parametrize("priority", ["none", "low", "medium", "high"])
def test_every_priority_of_the_enum_is_accepted(writer, priority):
    assert accepted(writer.send(priority=priority))["priority"] == priority


@pytest.mark.parametrize("priority", ["urgent", "HIGH", "", None, 3, ["high"]], ids=repr)
def test_priority_outside_the_enum_is_400(writer, priority):
    rejected(writer, writer.send(priority=priority), "priority")


@pytest.mark.parametrize("completed", [True, False])
def test_completed_accepts_booleans(writer, completed):
    assert accepted(writer.send(completed=completed))["completed"] is completed


@pytest.mark.parametrize("completed", ["true", "yes", 1, 0, None, "false"], ids=repr)
def test_completed_must_be_a_json_boolean(writer, completed):
    rejected(writer, writer.send(completed=completed), "completed")


# --- unicode round trip --------------------------------------------------------------------------
def test_emoji_joiners_and_right_to_left_text_round_trip_exactly(auth_client, user):
    # Precomposed and combining accents, a flag, Hebrew, bidi overrides, a zero-width space.
    title = (
        f"Caf\u00e9 e\u0301 \U0001f600 {FAMILY} \U0001f1fa\U0001f1e6 "
        "\u05e9\u05dc\u05d5\u05dd \u202eRTL\u202c\u200b end"
    )
    description = (
        f"\u0645\u0631\u062d\u0628\u0627\n{FAMILY}\u200d\ufe0f\r\n\u2028 \U0001f3f3\ufe0f\u200d\U0001f308"
        # A BOM, private use, noncharacters and the last code point are not control characters.
        "\ufeff \ue000 \ufdd0 \uffff \U0010ffff"
    )
    tags = ["\U0001f600", "\u05e9\u05dc\u05d5\u05dd", "e\u0301t\u00e9", FAMILY]

    created = create_task(auth_client, user.pk, title=title, description=description, tags=tags)

    for task in (
        created,
        get_task(auth_client, user.pk, created["id"]),
        auth_client.get(tasks_url(user.pk)).json()[0],
    ):
        assert task["title"] == title
        assert task["description"] == description
        assert sorted(task["tags"]) == sorted(tags)
