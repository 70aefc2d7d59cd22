"""Figures of docs/SYNC.md: the write cost of the change-feed triggers (before/after migration 0006,
in-process, through the services the API calls) and EXPLAIN (ANALYZE, BUFFERS) of a sync of 1,000
changes for a user with 100,000 tasks (PostgreSQL).

    DATABASE_URL=postgres://.../db DJANGO_DEBUG=true .venv/bin/python bench/sync_figures.py writes
    DATABASE_URL=postgres://.../db DJANGO_DEBUG=true .venv/bin/python bench/sync_figures.py explain

It migrates the database it is given back and forth and fills it: use a scratch database.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

ROUNDS, CALLS = 3, 300


def _timed(call) -> float:
    """Median microseconds per call, the best of ROUNDS rounds of CALLS calls."""
    best = []
    for _ in range(ROUNDS):
        samples = []
        for _ in range(CALLS):
            start = time.perf_counter()
            call()
            samples.append((time.perf_counter() - start) * 1e6)
        best.append(statistics.median(samples))
    return min(best)


def write_costs() -> dict[str, float]:
    from accounts.models import User
    from tasks import services

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the disk's flush would drown what the triggers cost
            cursor.execute("SET synchronous_commit TO off")
    user = User.objects.create_user(email=f"bench{time.monotonic_ns()}@example.com")
    tasks = [services.task_create(user=user, title=f"t{n}") for n in range(200)]
    ids = iter([task.pk for task in tasks] * 1000)
    counter = iter(range(10**9))
    costs = {
        "create (no tags)": _timed(lambda: services.task_create(user=user, title="new")),
        "toggle": _timed(lambda: services.task_set_completed(user=user, task_id=next(ids), completed=None)),
        "update title": _timed(
            lambda: services.task_update(user=user, task_id=next(ids), changes={"title": f"x{next(counter)}"})
        ),
        "create with 2 tags": _timed(
            lambda: services.task_create(user=user, title="tagged", tags=["a", "b"])
        ),
    }
    with connection.cursor() as cursor:  # raw: at 0004 the model has a column the table lacks
        cursor.execute(
            "DELETE FROM tasks_task_tags WHERE task_id IN (SELECT id FROM tasks_task WHERE user_id = %s)",
            [user.pk],
        )
        cursor.execute("DELETE FROM tasks_task WHERE user_id = %s", [user.pk])
    return costs


def writes() -> None:
    call_command("migrate", "tasks", "0004", verbosity=0)
    before = write_costs()
    call_command("migrate", "tasks", verbosity=0)
    after = write_costs()
    call_command("migrate", "tasks", "0004", verbosity=0)
    before2 = write_costs()
    call_command("migrate", "tasks", verbosity=0)
    after2 = write_costs()
    print(
        f"{connection.vendor}: median microseconds per write (best of {ROUNDS} x {CALLS}), two alternations, "
        "each write committed (PostgreSQL: synchronous_commit off)"
    )
    print("| write | before (0004) | after (0006) | change |")
    print("|---|---|---|---|")
    for name in before:
        b, a = min(before[name], before2[name]), min(after[name], after2[name])
        print(f"| {name} | {b:.0f} | {a:.0f} | {a - b:+.0f} ({(a / b - 1) * 100:+.0f}%) |")


def explain() -> None:
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from accounts.models import User
    from core.tests.support import mint_token
    from tasks import selectors
    from tasks.models import TaskCount

    call_command("migrate", verbosity=0)
    user = User.objects.filter(email="sync-explain@example.com").first()
    if user is None or not TaskCount.objects.filter(user=user, total__gt=0).exists():
        User.objects.filter(
            email__in=[
                "sync-explain@example.com",
                "other0@example.com",
                "other1@example.com",
                "other2@example.com",
            ]
        ).delete()
        user = User.objects.create_user(email="sync-explain@example.com")
        others = [User.objects.create_user(email=f"other{n}@example.com") for n in range(3)]
        with connection.cursor() as cursor:
            for owner, count in [(user, 100_000)] + [(other, 100_000) for other in others]:
                cursor.execute(
                    "INSERT INTO tasks_task (user_id, title, description, completed, priority, version, "
                    "created_at, updated_at) SELECT %s, 'task ' || n, '', n %% 3 = 0, n %% 4, 1, "
                    "now() - n * interval '1 minute', now() FROM generate_series(1, %s) n",
                    [owner.pk, count],
                )
            cursor.execute("ANALYZE tasks_task")
    before = TaskCount.objects.get(user=user).change_seq
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tasks_task WHERE user_id = %s ORDER BY random() LIMIT 1000", [user.pk])
        picked = [row[0] for row in cursor.fetchall()]
        for task_id in picked[:900]:  # 900 edits and 100 deletes, each its own statement
            cursor.execute("UPDATE tasks_task SET title = title || '!' WHERE id = %s", [task_id])
        for task_id in picked[900:]:
            cursor.execute("DELETE FROM tasks_task WHERE id = %s", [task_id])
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM tasks_task")
        total = cursor.fetchone()[0]
    token = selectors.encode_sync_token(user=user, position=selectors.ChangePosition(before, 2**63 - 1, 0))
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_token(user.pk)}")
    url = f"/api/{user.pk}/tasks/changes/"
    client.get(url, {"since": token, "limit": 1000})
    with CaptureQueriesContext(connection) as captured:
        start = time.perf_counter()
        response = client.get(url, {"since": token, "limit": 1000})
        elapsed = (time.perf_counter() - start) * 1000
    body = response.json()
    print(
        f"tasks_task: {total:,} rows; the user: 100,000 tasks; 1,000 changes since the token "
        f"({len(body['changes'])} returned, has_more={body['has_more']}); request {elapsed:.1f} ms in-process"
    )
    with connection.cursor() as cursor:
        for query in captured:
            sql = query["sql"]
            if "tasks_taskcount" in sql and "UNION" not in sql and "tombstone" not in sql.split("FROM")[1]:
                title = "Is there anything new (the count row)"
            elif "UNION" in sql:
                title = "The page"
            else:
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            cursor.fetchall()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            print(f"\n### {title}\n\n```\n" + "\n".join(row[0] for row in cursor.fetchall()) + "\n```")
    # Nothing new: the same request again with the token it returned.
    with CaptureQueriesContext(connection) as captured:
        client.get(url, {"since": body["next"]})
    print(f"\nNothing new: {len(captured)} statement(s): " + " | ".join(q["sql"] for q in captured))


if __name__ == "__main__":
    {"writes": writes, "explain": explain}[sys.argv[1]]()
