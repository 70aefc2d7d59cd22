"""EXPLAIN (ANALYZE, BUFFERS) of the due scan's statements, as notifications.services sends them,
on the database bench/reminders_explain.sql seeds; prints the Markdown section of docs/EXPLAIN.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/todo_push_explain DJANGO_DEBUG=true \\
        .venv/bin/python bench/reminders_explain.py
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")


def main() -> None:
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from notifications.services import DELIVERY_BATCH, reminders_claim_due, reminders_due_count
    from notifications.tasks import SCAN_FANOUT

    with connection.cursor() as cursor:
        cursor.execute("SELECT state, count(*) FROM tasks_reminder GROUP BY state ORDER BY state")
        counts = cursor.fetchall()
        cursor.execute(
            "SELECT pg_size_pretty(pg_relation_size('reminder_due')),"
            " pg_size_pretty(pg_relation_size('tasks_reminder'))"
        )
        index_size, table_size = cursor.fetchone()
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        reminders_due_count(cap=SCAN_FANOUT * DELIVERY_BATCH)
        reminders_claim_due(limit=DELIVERY_BATCH)
        transaction.set_rollback(True)
    statements = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith(("SELECT", "UPDATE"))
    ]
    sections = []
    for sql in statements:
        plans = []
        for _ in range(2):  # the second, warm run is shown
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                    plans = [row[0] for row in cursor.fetchall()]
                transaction.set_rollback(True)
        sections.append((sql, plans))
    total = sum(n for _, n in counts)
    print(f"{total:,} reminders: " + ", ".join(f"{state} {n:,}" for state, n in counts))
    print(f"reminder_due: {index_size}; tasks_reminder: {table_size}")
    for sql, plan in sections:
        shown = sql if len(sql) < 600 else sql[:300] + " ... " + sql[-120:]
        print("\n```sql\n" + shown + "\n```\n\n```\n" + "\n".join(plan) + "\n```")


if __name__ == "__main__":
    main()
