"""EXPLAIN (ANALYZE, BUFFERS) of the SQL the project really sends for its list and detail routes,
for the user with 100,000 tasks in the 1,000,000-row table (bench/scale.py), as Markdown.

Each request goes through Django's test client; its statements are captured and the ones that read
tasks, tags or the counts are explained, each run twice so that the plan shown is the warm one.
Called by bench/run.py (the plans go into the report); `--out docs/EXPLAIN.md` refreshes the note.
"""

import re
from urllib.parse import quote

REQUESTS = [
    ("Default page (`GET /tasks/`)", ""),
    (
        "Filtered and sorted (`?status=pending&sort=due_date&tag=work`)",
        "?status=pending&sort=due_date&tag=work",
    ),
    ("Tag filter (`?tag=work`)", "?tag=work"),
    ("Search (`?search=invoice`)", "?search=invoice"),
    ("Sorted by title (`?sort=title`)", "?sort=title"),
]
INTERESTING = re.compile(r'FROM "tasks_(task|tag|taskcount|task_tags)"|COUNT\(', re.IGNORECASE)


def _explain(cursor, sql: str) -> tuple[list[str], float]:
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)  # warm the cache first
    cursor.fetchall()
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
    lines = [row[0] for row in cursor.fetchall()]
    execution = next(
        float(line.split(":")[1].split()[0]) for line in lines if line.startswith("Execution Time")
    )
    plan, in_planning = [], False
    for line in lines:
        if line.startswith(("Planning", "Execution")):
            in_planning = line.startswith("Planning:")
            continue
        if in_planning and line.startswith("  "):
            continue  # the planner's own buffer use
        plan.append(line)
    return plan, execution


def _indexes(plan: list[str]) -> list[str]:
    found = []
    for line in plan:
        match = re.search(
            r"(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)", line
        )
        if match and match.group(1) not in found:
            found.append(match.group(1))
        elif "Seq Scan on" in line:
            found.append("seq scan of " + line.split("Seq Scan on")[1].split()[0])
    return found


def explain_markdown(
    user_id: str, token: str, deep_cursor: str | None, depth: int | None, heading: str = "##"
) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from tasks.models import Task

    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    base = f"/api/{user_id}/tasks/"
    requests = list(REQUESTS)
    if deep_cursor:
        requests.append((f"Deep page by cursor (after {depth:,} tasks)", f"?cursor={quote(deep_cursor)}"))
    task_id = Task.objects.filter(user_id=user_id).order_by("-id").values_list("id", flat=True).first()
    requests.append(("Detail (`GET /tasks/{id}/`)", f"{task_id}/"))

    out = []
    with connection.cursor() as cursor:
        for title, suffix in requests:
            client.get(base + suffix)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(base + suffix)
            out += [
                f"{heading} {title}",
                "",
                f"Status {response.status_code}, X-Total-Count {response.headers.get('X-Total-Count', '-')}.",
                "",
            ]
            for query in captured.captured_queries:
                sql = query["sql"]
                if not INTERESTING.search(sql) or "accounts_user" in sql.split("WHERE")[0]:
                    continue
                plan, execution = _explain(cursor, sql)
                indexes = ", ".join(_indexes(plan)) or "none"
                short = re.sub(r"SELECT .*? FROM", "SELECT … FROM", sql, count=1) if len(sql) > 300 else sql
                short = re.sub(r"IN \(([0-9]+), [0-9, ]+\)", r"IN (\1, …)", short)
                out += [
                    f"`{short}`",
                    "",
                    f"{execution:.2f} ms; index: {indexes}",
                    "",
                    "```",
                    *plan,
                    "```",
                    "",
                ]
    return "\n".join(out)
