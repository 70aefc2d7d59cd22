"""How long a list of 100 tasks with 3 tags each takes, and how much of it is serialization.

In one process, no network: the whole request through Django's test client (middleware,
authentication, throttle, query parsing, SQL, serialization, rendering), then its parts alone:
the selector (SQL and model instances), `TaskSerializer(many=True).data`, and orjson rendering.
Each figure is the median of many runs. Called by bench/run.py.
"""

import statistics
import time

USER_ID = "serial-100x3"


def _median_ms(function, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def ensure_user() -> None:
    """A user with 100 tasks, each carrying 3 of 6 tags (made once; the bench database is ours)."""
    from accounts.models import User
    from tasks.models import Tag, Task

    user, created = User.objects.get_or_create(
        pk=USER_ID, defaults={"email": "serial@bench.example", "name": "S"}
    )
    if not created and Task.objects.filter(user=user).count() == 100:
        return
    Task.objects.filter(user=user).delete()
    names = ["home", "work", "errands", "Urgent", "later", "ideas"]
    tags = [
        Tag.objects.get_or_create(user=user, key=name.casefold(), defaults={"name": name})[0]
        for name in names
    ]
    tasks = Task.objects.bulk_create(
        Task(
            user=user,
            title=f"Task {n}",
            description="Notes " * (n % 20),
            priority=n % 4,
            completed=n % 3 == 0,
        )
        for n in range(100)
    )
    Through = Task.tags.through
    Through.objects.bulk_create(
        Through(task_id=task.pk, tag_id=tags[(n + k) % 6].pk)
        for n, task in enumerate(tasks)
        for k in range(3)
    )


def measure(token: str, runs: int = 300) -> dict[str, float]:
    from rest_framework.test import APIClient

    from accounts.models import User
    from core.formats import ORJSONRenderer
    from tasks import selectors, sql
    from tasks.selectors import TaskListParams

    ensure_user()
    user = User.objects.get(pk=USER_ID)
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/{USER_ID}/tasks/"
    response = client.get(url)
    assert response.status_code == 200 and len(response.json()) == 100, response.content[:300]
    assert all(len(task["tags"]) == 3 for task in response.json())

    page = selectors.task_list(user=user, params=TaskListParams())
    data = page.tasks
    task_row = sql.dialect().to_task
    rows = sql.fetch_all(
        f"SELECT {sql.dialect().task_columns('t')} FROM {sql.TASK} t WHERE t.user_id = %s "
        "ORDER BY t.created_at DESC, t.id DESC LIMIT 100",
        [user.pk],
    )  # the selector's rows are already the API's task dicts
    renderer = ORJSONRenderer()
    for _ in range(20):  # warm
        client.get(url)
    results = {
        "request": _median_ms(lambda: client.get(url), runs),
        "selector": _median_ms(lambda: selectors.task_list(user=user, params=TaskListParams()), runs),
        # Rows become task dicts inside the selector (tasks/sql.py); no serializer runs on a list.
        "serializer": _median_ms(lambda: [task_row(row) for row in rows], runs),
        "render": _median_ms(lambda: renderer.render(data), runs),
    }
    results["serialization"] = results["serializer"] + results["render"]
    results["share"] = results["serialization"] / results["request"]
    results["runs"] = runs
    return results


def markdown(results: dict[str, float], heading: str = "##") -> str:
    return "\n".join(
        [
            f"{heading} Serialization: a list of 100 tasks with 3 tags each",
            "",
            f"In-process, no network, median of {results['runs']} runs each:",
            "",
            "| part | ms |",
            "|---|---|",
            f"| whole request (`GET /api/{{user}}/tasks/`, test client) | {results['request']:.2f} |",
            f"| selector `task_list`: the page with its tag names, as dicts | {results['selector']:.2f} |",
            f"| rows to task dicts (`tasks.sql` `to_task`) | {results['serializer']:.2f} |",
            f"| orjson rendering of the 100 dicts | {results['render']:.2f} |",
            f"| **serialization (rows to dicts + rendering)** | **{results['serialization']:.2f} "
            f"({results['share']:.0%} of the request)** |",
            "",
        ]
    )
