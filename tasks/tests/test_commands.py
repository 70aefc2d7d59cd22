"""The operators' commands, through call_command: real data, --dry-run, bad input, round trips."""

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from tasks.models import IdempotencyKey, Priority, Tag, Task
from tasks.tests.factories import TaskFactory

TaskThrough = Task.tags.through


def run(*args, **options) -> tuple[str, str]:
    """call_command with captured stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def snapshot(queryset=None) -> list[dict]:
    """Every stored field of every task, with its tag names: what a lossless round trip keeps."""
    rows = []
    for task in (
        (queryset or Task.objects.all()).order_by("user_id", "created_at", "title").prefetch_related("tags")
    ):
        rows.append(
            {
                **{field.attname: getattr(task, field.attname) for field in Task._meta.concrete_fields},
                "tags": sorted(tag.name for tag in task.tags.all()),
            }
        )
    return rows


@pytest.mark.parametrize(
    "command",
    [
        "seed_demo",
        "purge_tasks",
        "reassign_tasks",
        "export_tasks",
        "import_tasks",
        "normalize_data",
        "purge_idempotency_keys",
        "deactivate_user",
        "reactivate_user",
    ],
)
def test_every_command_explains_itself_with_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command(command, "--help")
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


# --- seed_demo ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_seed_demo_creates_realistic_data_with_better_auth_ids():
    out, _ = run("seed_demo", users=3, tasks_per_user=40, seed=5)
    assert re.search(r"Created 3 user\(s\), \d+ tag\(s\), 120 task\(s\)", out)
    users = list(User.objects.all())
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", user.pk) for user in users)
    assert all(not user.has_usable_password() and "@" in user.email and user.name for user in users)
    tasks = Task.objects.all()
    assert tasks.count() == 120
    assert tasks.filter(completed=True).exists() and tasks.filter(completed=False).exists()
    assert tasks.filter(due_date__isnull=True).exists()
    assert (
        tasks.filter(due_date__lt=timezone.now()).exists()
        and tasks.filter(due_date__gt=timezone.now()).exists()
    )
    assert set(tasks.values_list("priority", flat=True)) == set(Priority.values)
    assert TaskThrough.objects.exists()
    for user in users:  # a small vocabulary per user, and tasks only carry their owner's tags
        assert 3 <= Tag.objects.filter(user=user).count() <= 8
    assert not TaskThrough.objects.exclude(tag__user_id=models_f("task__user_id")).exists()
    # completed and completed_at agree, as the API keeps them
    assert not tasks.filter(completed=True, completed_at__isnull=True).exists()
    assert not tasks.filter(completed=False, completed_at__isnull=False).exists()


def models_f(name):
    from django.db.models import F

    return F(name)


@pytest.mark.django_db
def test_seed_demo_is_deterministic_for_a_seed():
    out, _ = run("seed_demo", users=2, tasks_per_user=15, seed=9, print_user_ids=True)
    first = snapshot()
    ids = out.split()
    Task.objects.all().delete()
    Tag.objects.all().delete()
    User.objects.all().delete()
    again, _ = run("seed_demo", users=2, tasks_per_user=15, seed=9, print_user_ids=True)
    assert again.split() == ids

    def content(rows):
        ignored = {"id", "created_at", "updated_at", "completed_at", "due_date"}
        return [{key: value for key, value in row.items() if key not in ignored} for row in rows]

    # Dates are offsets from today's midnight, so on the same day they are equal too.
    assert content(snapshot()) == content(first)


@pytest.mark.django_db
def test_seed_demo_print_user_ids_prints_only_ids_on_stdout():
    out, err = run("seed_demo", users=4, tasks_per_user=1, seed=3, print_user_ids=True)
    lines = out.splitlines()
    assert len(lines) == 4 and all(re.fullmatch(r"[A-Za-z0-9]{32}", line) for line in lines)
    assert set(lines) == set(User.objects.values_list("pk", flat=True))
    assert "Created 4 user(s)" in err


@pytest.mark.django_db
def test_seed_demo_shows_a_progress_bar_when_it_runs_in_several_batches():
    _, err = run("seed_demo", users=2, tasks_per_user=30, seed=4, batch_size=10)
    assert "seed_demo [" in err and "60/60" in err
    assert Task.objects.count() == 60


@pytest.mark.django_db
def test_seed_demo_dry_run_writes_nothing():
    out, _ = run("seed_demo", users=2, tasks_per_user=5, seed=1, dry_run=True)
    assert "Would create 2 user(s)" in out
    assert not User.objects.exists() and not Task.objects.exists()


@pytest.mark.django_db
def test_seed_demo_refuses_a_seed_whose_users_exist():
    run("seed_demo", users=1, tasks_per_user=1, seed=2)
    with pytest.raises(CommandError, match="already exist"):
        run("seed_demo", users=1, tasks_per_user=1, seed=2)
    assert Task.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"users": 0, "tasks_per_user": 1}, "--users"),
        ({"users": 1, "tasks_per_user": -1}, "--tasks-per-user"),
        ({"users": 1, "tasks_per_user": 1, "batch_size": 0}, "--batch-size"),
        ({"users": 100_000, "tasks_per_user": 1000}, "At most"),
    ],
)
def test_seed_demo_bad_input_is_a_command_error(options, message):
    with pytest.raises(CommandError, match=message):
        run("seed_demo", **options)
    assert not User.objects.exists()


# --- purge_tasks ----------------------------------------------------------------------------------
@pytest.fixture
def aged(db):
    """Tasks of two users, completed long ago, recently, and not at all."""
    alice, bob = UserFactory(), UserFactory()
    old = datetime(2024, 1, 10, tzinfo=UTC)
    return {
        "alice": alice,
        "bob": bob,
        "alice_old": TaskFactory(user=alice, completed=True, completed_at=old, tags=["x"]),
        "alice_new": TaskFactory(user=alice, completed=True, completed_at=timezone.now()),
        "alice_open": TaskFactory(user=alice),
        "bob_old": TaskFactory(user=bob, completed=True, completed_at=old),
        "bob_open": TaskFactory(user=bob),
    }


def remaining(aged) -> set[str]:
    ids = set(Task.objects.values_list("pk", flat=True))
    return {name for name, task in aged.items() if isinstance(task, Task) and task.pk in ids}


def test_purge_completed_before_a_date_deletes_only_those(aged):
    out, _ = run("purge_tasks", "--completed-before", "2025-01-01")
    assert "Deleted 2 task(s) completed before 2025-01-01T00:00:00+00:00." in out
    assert remaining(aged) == {"alice_new", "alice_open", "bob_open"}
    assert not TaskThrough.objects.filter(task_id=aged["alice_old"].pk).exists()


def test_purge_one_users_tasks(aged):
    out, _ = run("purge_tasks", user=aged["alice"].pk)
    assert f"Deleted 3 task(s) of user {aged['alice'].pk}." in out
    assert remaining(aged) == {"bob_old", "bob_open"}


def test_purge_user_and_date_together(aged):
    run("purge_tasks", "--user", aged["bob"].pk, "--completed-before", "2025-01-01T00:00:00Z")
    assert remaining(aged) == {"alice_old", "alice_new", "alice_open", "bob_open"}


def test_purge_dry_run_counts_and_deletes_nothing(aged):
    out, _ = run("purge_tasks", "--completed-before", "2025-01-01", "--dry-run")
    assert "Would delete 2 task(s)" in out
    assert Task.objects.count() == 5


def test_purge_works_in_batches_with_progress(aged, monkeypatch):
    from tasks.management.commands import purge_tasks

    monkeypatch.setattr(purge_tasks, "BATCH_SIZE", 1)
    _, err = run("purge_tasks", user=aged["alice"].pk)
    assert "purge_tasks [" in err and "3/3" in err
    assert remaining(aged) == {"bob_old", "bob_open"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Give --user, --completed-before"),
        (["--user", "nobody"], "No user with id 'nobody'"),
    ],
)
def test_purge_bad_input_is_a_command_error(aged, args, message):
    with pytest.raises(CommandError, match=message):
        run("purge_tasks", *args)
    assert Task.objects.count() == 5


def test_purge_refuses_a_date_it_cannot_read(aged):
    with pytest.raises(CommandError, match="is not a date"):
        call_command("purge_tasks", "--completed-before", "last tuesday")


# --- reassign_tasks -------------------------------------------------------------------------------
@pytest.fixture
def merged_accounts(db):
    source, target = UserFactory(), UserFactory()
    TaskFactory(user=target, title="Target's", tags=["Work"])
    moved = [
        TaskFactory(user=source, title="Shared tag", tags=["work", "errands"]),
        TaskFactory(user=source, title="Own tag", tags=["errands"]),
        TaskFactory(user=source, title="No tags"),
    ]
    return source, target, moved


def test_reassign_moves_tasks_and_merges_same_name_tags(merged_accounts):
    source, target, moved = merged_accounts
    out, _ = run("reassign_tasks", from_user=source.pk, to_user=target.pk)
    assert f"Moved 3 task(s) from {source.pk} to {target.pk}: 1 tag(s) moved, 1 merged" in out
    assert not Task.objects.filter(user=source).exists()
    assert not Tag.objects.filter(user=source).exists()
    assert set(Tag.objects.filter(user=target).values_list("name", flat=True)) == {"errands", "Work"}
    shared = Task.objects.get(title="Shared tag")
    assert {tag.name for tag in shared.tags.all()} == {"errands", "Work"}  # the target's spelling
    assert shared.version == moved[0].version + 1
    assert Tag.objects.get(user=target, key="work").tasks.count() == 2
    assert not TaskThrough.objects.exclude(tag__user_id=models_f("task__user_id")).exists()


def test_reassign_dry_run_changes_nothing(merged_accounts):
    source, target, _ = merged_accounts
    out, _ = run("reassign_tasks", from_user=source.pk, to_user=target.pk, dry_run=True)
    assert "Would move 3 task(s)" in out
    assert Task.objects.filter(user=source).count() == 3
    assert Tag.objects.filter(user=source).count() == 2


@pytest.mark.parametrize("which", ["same", "unknown_from", "unknown_to"])
def test_reassign_bad_input_is_a_command_error(merged_accounts, which):
    source, target, _ = merged_accounts
    from_user, to_user = {
        "same": (source.pk, source.pk),
        "unknown_from": ("nobody", target.pk),
        "unknown_to": (source.pk, "nobody"),
    }[which]
    with pytest.raises(CommandError):
        run("reassign_tasks", from_user=from_user, to_user=to_user)
    assert Task.objects.filter(user=source).count() == 3


# --- export_tasks / import_tasks ------------------------------------------------------------------
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
    assert not TaskThrough.objects.exclude(tag__user_id=models_f("task__user_id")).exists()
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


# --- normalize_data -------------------------------------------------------------------------------
@pytest.fixture
def messy(db):
    """Rows the API would never write, made the way old code or a hand edit could."""
    user = UserFactory()
    good = TaskFactory(user=user, title="Fine", tags=["home"])
    padded = TaskFactory(user=user, title="  Padded title \t")
    blank = TaskFactory(user=user, title="x")
    Task.objects.filter(pk=blank.pk).update(title="   ")
    done_no_time = TaskFactory(user=user, title="Done, no time")
    Task.objects.filter(pk=done_no_time.pk).update(completed=True, completed_at=None)
    open_with_time = TaskFactory(user=user, title="Open, with time")
    Task.objects.filter(pk=open_with_time.pk).update(completed=False, completed_at=timezone.now())
    # A tag whose key went stale ("Home " with key "home " collides with "home" once trimmed).
    stale = Tag.objects.create(user=user, name="Home ", key="home ")
    stale_task = TaskFactory(user=user, title="Stale tag")
    stale_task.tags.add(stale)
    renamed = Tag.objects.create(user=user, name=" Garden", key="Garden")
    return {
        "good": good,
        "padded": padded,
        "blank": blank,
        "done_no_time": done_no_time,
        "open_with_time": open_with_time,
        "stale": stale,
        "stale_task": stale_task,
        "renamed": renamed,
    }


def test_normalize_fixes_each_problem_and_reports_each_count(messy):
    versions = dict(Task.objects.values_list("pk", "version"))
    last_change = Task.objects.get(pk=messy["done_no_time"].pk).updated_at
    out, _ = run("normalize_data")
    assert "titles trimmed: 2" in out
    assert "tags renamed: 1" in out
    assert "duplicate tags merged: 1" in out
    assert "completed/completed_at disagreements fixed: 2" in out
    assert "Fixed 6 problem(s)." in out

    def fresh(name):
        return Task.objects.get(pk=messy[name].pk)

    assert fresh("padded").title == "Padded title"
    assert fresh("blank").title == "(untitled)"
    assert fresh("done_no_time").completed_at == last_change  # the best guess we have
    assert fresh("open_with_time").completed_at is None
    assert not Tag.objects.filter(pk=messy["stale"].pk).exists()
    assert [tag.name for tag in fresh("stale_task").tags.all()] == ["home"]
    renamed = Tag.objects.get(pk=messy["renamed"].pk)
    assert (renamed.name, renamed.key) == ("Garden", "garden")
    for name in ("padded", "blank", "done_no_time", "open_with_time", "stale_task"):
        assert fresh(name).version == versions[messy[name].pk] + 1, name
    assert fresh("good").version == versions[messy["good"].pk]  # untouched rows keep their version
    # A second run finds nothing left.
    assert "Fixed 0 problem(s)." in run("normalize_data")[0]


def test_normalize_dry_run_counts_and_changes_nothing(messy):
    before = snapshot()
    tags = list(Tag.objects.values_list("pk", "name", "key"))
    out, _ = run("normalize_data", dry_run=True)
    assert "Would fix 6 problem(s)." in out
    assert snapshot() == before
    assert list(Tag.objects.values_list("pk", "name", "key")) == tags


# --- purge_idempotency_keys -----------------------------------------------------------------------
@pytest.fixture
def keys(db):
    user = UserFactory()
    old = IdempotencyKey.objects.create(user=user, key="old", fingerprint="f")
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.create(user=user, key="new", fingerprint="f")


def test_purge_idempotency_keys_deletes_only_expired(keys):
    out, _ = run("purge_idempotency_keys")
    assert "Deleted 1 expired idempotency key(s)." in out
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_purge_idempotency_keys_dry_run(keys):
    out, _ = run("purge_idempotency_keys", dry_run=True)
    assert "Would delete 1 expired idempotency key(s)." in out
    assert IdempotencyKey.objects.count() == 2


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


# --- CSV formula injection (issue 12) -----------------------------------------------------------------
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
