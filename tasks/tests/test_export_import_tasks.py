"""export_tasks and import_tasks: one file format, lossless round trips, bad rows reported by line."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from accounts.tests.factories import UserFactory
from tasks.models import Priority, Tag, Task
from tasks.tests.command_support import run, snapshot, tags_never_cross_users
from tasks.tests.factories import TaskFactory


@pytest.fixture
def rich(db):
    """Tasks with every field set in awkward ways: commas, quotes, newlines, unicode, nulls."""
    alice, bob = UserFactory(), UserFactory()
    created = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    TaskFactory(
        user=alice,
        title='Say "hi", then leave',
        description="line one\nline two, with comma\r\nand ünïcödé ✓",
        completed=True,
        completed_at=created + timedelta(hours=1, microseconds=5),
        priority=Priority.HIGH,
        due_date=created + timedelta(days=2),
        version=7,
        created_at=created,
        updated_at=created + timedelta(hours=2),
        tags=["a,b", "Ünïcode", "plain"],
    )
    TaskFactory(user=alice, title="Bare", created_at=created - timedelta(days=1), updated_at=created)
    TaskFactory(
        user=bob, title="Bob's", priority=Priority.LOW, created_at=created, updated_at=created, tags=["x"]
    )
    return alice, bob


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_export_then_import_round_trip_is_lossless_field_by_field(rich, tmp_path, file_format):
    path = tmp_path / f"tasks.{file_format}"
    before = snapshot()
    out, _ = run("export_tasks", output=str(path))
    assert f"Exported 3 task(s) to {path} ({file_format})." in out

    Task.objects.all().delete()
    Tag.objects.all().delete()
    out, _ = run("import_tasks", str(path))
    assert "Imported 3 task(s), skipped 0 already present" in out
    assert snapshot() == before  # ids, owners, text, flags, priority, dates, version, timestamps, tags


def test_importing_the_same_file_twice_creates_nothing_new(rich, tmp_path):
    path = tmp_path / "tasks.jsonl"
    run("export_tasks", output=str(path))
    before = snapshot()
    out, _ = run("import_tasks", str(path))
    assert "Imported 0 task(s), skipped 3 already present" in out
    assert snapshot() == before
    assert Tag.objects.count() == 4


def test_export_to_stdout_and_one_users_tasks(rich):
    alice, _ = rich
    out, err = run("export_tasks", user=alice.pk)
    records = [json.loads(line) for line in out.splitlines()]
    assert {record["user_id"] for record in records} == {alice.pk}
    assert len(records) == 2 and "Exported 2 task(s)" in err
    first = next(record for record in records if record["title"].startswith("Say"))
    assert first["tags"] == ["a,b", "plain", "Ünïcode"]
    assert first["created_at"] == "2026-03-04T05:06:07.891011Z"
    assert first["priority"] == "high" and first["version"] == 7


def test_import_into_another_user_gives_new_ids_and_the_users_own_tags(rich, tmp_path):
    alice, bob = rich
    path = tmp_path / "alice.jsonl"
    run("export_tasks", user=alice.pk, output=str(path))
    out, _ = run("import_tasks", str(path), user=bob.pk)
    assert "Imported 2 task(s)" in out
    copies = Task.objects.filter(user=bob, title__in=["Bare", 'Say "hi", then leave'])
    assert copies.count() == 2
    assert not set(copies.values_list("pk", flat=True)) & set(
        Task.objects.filter(user=alice).values_list("pk", flat=True)
    )
    assert tags_never_cross_users()
    # and again: nothing new
    assert "Imported 0 task(s), skipped 2" in run("import_tasks", str(path), user=bob.pk)[0]


def test_import_keeps_ids_and_later_creates_do_not_collide(rich, tmp_path):
    path = tmp_path / "tasks.jsonl"
    run("export_tasks", output=str(path))
    highest = Task.objects.order_by("-pk").first().pk
    Task.objects.all().delete()
    run("import_tasks", str(path))
    assert Task.objects.order_by("-pk").first().pk == highest
    fresh = TaskFactory(user=rich[0])  # the sequence moved past the imported ids
    assert fresh.pk > highest


def test_import_dry_run_checks_and_writes_nothing(rich, tmp_path):
    path = tmp_path / "tasks.csv"
    run("export_tasks", output=str(path))
    Task.objects.all().delete()
    out, _ = run("import_tasks", str(path), dry_run=True)
    assert "Would import 3 task(s)" in out
    assert not Task.objects.exists()


def test_import_creates_missing_owners_only_when_asked(rich, tmp_path):
    alice, _ = rich
    path = tmp_path / "tasks.jsonl"
    run("export_tasks", user=alice.pk, output=str(path))
    Task.objects.all().delete()
    Tag.objects.all().delete()
    alice_id = alice.pk
    alice.delete()
    with pytest.raises(CommandError, match=rf"line 1: no user '{alice_id}'"):
        run("import_tasks", str(path))
    assert not User.objects.filter(pk=alice_id).exists()
    out, _ = run("import_tasks", str(path), create_users=True)
    assert "Imported 2 task(s)" in out and "created 1 user(s)" in out
    assert not User.objects.get(pk=alice_id).has_usable_password()


def test_bad_rows_are_reported_by_line_and_nothing_is_written(rich, tmp_path):
    alice, _ = rich
    good = {
        "user_id": alice.pk,
        "title": "Fine",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    lines = [
        json.dumps(good),
        json.dumps({**good, "title": ""}),
        "{not json",
        "",
        json.dumps({**good, "title": "Another", "priority": "urgent"}),
        json.dumps({**good, "title": "Dates", "due_date": "2026-13-01"}),
        json.dumps({**good, "title": "Naive", "created_at": "2026-01-01T00:00:00"}),
        json.dumps({**good, "title": "Tags", "tags": ["x" * 51]}),
        json.dumps({**good, "title": "Flag", "completed": "yes"}),
        json.dumps([1, 2]),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = snapshot()
    with pytest.raises(CommandError) as error:
        run("import_tasks", str(path))
    message = str(error.value)
    assert "8 bad row(s)" in message and "nothing was imported" in message
    for line in (2, 3, 5, 6, 7, 8, 9, 10):
        assert f"line {line}:" in message
    assert "line 1:" not in message and "line 4:" not in message
    assert snapshot() == before


def test_bad_csv_header_is_reported(db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("title,colour\nx,red\n", encoding="utf-8")
    with pytest.raises(CommandError, match="CSV header"):
        run("import_tasks", str(path))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/file.jsonl"], "Cannot read"),
        (["{path}", "--user", "nobody"], "No user with id 'nobody'"),
        (["{path}", "--format", "xml"], "invalid choice"),
    ],
)
def test_import_bad_input_is_a_command_error(db, tmp_path, args, message):
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        call_command("import_tasks", *[arg.format(path=path) for arg in args])


def test_import_refuses_a_file_that_is_not_utf8(db, tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"title": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        run("import_tasks", str(path))


def test_export_bad_input_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError, match="No user with id"):
        run("export_tasks", user="nobody")
    with pytest.raises(CommandError, match="Cannot write"):
        run("export_tasks", output=str(tmp_path / "missing-dir" / "x.jsonl"))


def test_import_refuses_a_title_with_control_characters_and_writes_nothing(tmp_path, user):
    """The import applies the API's field rules: a NUL would otherwise reach the database."""
    from tasks.models import Task

    stamps = {"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}
    rows = [
        {"user_id": user.pk, "title": "fine", **stamps},
        {"user_id": user.pk, "title": "bad\x00title", **stamps},
    ]
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))

    with pytest.raises(CommandError, match="line 2"):
        call_command("import_tasks", str(path))
    assert not Task.objects.filter(user=user).exists()


FORMULAS = ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "'quoted", "''two"]


def test_csv_export_neutralises_cells_a_spreadsheet_would_run(db, tmp_path):
    import csv

    user = UserFactory(id="-dash-user")
    for title in FORMULAS:
        TaskFactory(user=user, title=title, description="=cmd|' /C calc'!A0", tags=["@tag"])
    path = tmp_path / "tasks.csv"
    run("export_tasks", output=str(path))
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(FORMULAS)
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (column, cell)
    assert {row["title"] for row in rows} == {"'" + title for title in FORMULAS}
    assert {row["user_id"] for row in rows} == {"'-dash-user"}


def test_neutralised_csv_cells_round_trip_exactly(db, tmp_path):
    user = UserFactory(id="-dash-user")
    titles = [title for title in FORMULAS if not title.startswith("\t")]  # titles are trimmed anyway
    for title in titles:
        TaskFactory(user=user, title=title, description="-minus", tags=["=tag"])
    TaskFactory(user=user, title="plain", description="")
    before = snapshot()
    path = tmp_path / "tasks.csv"
    run("export_tasks", output=str(path))
    Task.objects.all().delete()
    Tag.objects.all().delete()
    out, _ = run("import_tasks", str(path))
    assert f"Imported {len(titles) + 1} task(s)" in out
    assert snapshot() == before
