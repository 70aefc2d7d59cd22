"""Helpers shared by the black-box tests of the tasks API (tasks/tests/test_api_*.py).

They only speak HTTP: URLs, real Bearer tokens, problem+json checks, following `Link` pages.
"""

import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

# RFC 3339 in UTC with a literal Z, as docs/API.md promises for every date in a response.
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


# Every route answers with and without the trailing slash (docs/API.md §4).
SLASH = pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])


def postgres_only(test):
    """Row locks and truly concurrent transactions exist only on PostgreSQL; SQLite serializes writers."""
    skip = pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serializes every writer, so there is no concurrent race to test",
    )
    return pytest.mark.postgres_only(skip(test))


def tasks_url(user_id: str, *parts: object, slash: bool = True) -> str:
    """`/api/<user_id>/tasks/<parts...>/`, with or without the trailing slash."""
    url = "/".join([f"/api/{user_id}/tasks", *(str(part) for part in parts)])
    return url + "/" if slash else url


def tags_url(user_id: str, slash: bool = True) -> str:
    return f"/api/{user_id}/tags/" if slash else f"/api/{user_id}/tags"


def create_task(client: APIClient, user_id: str, /, **fields: Any) -> dict[str, Any]:
    """POST a task (title defaults to "Task") and return its body; fails the test unless 201."""
    fields.setdefault("title", "Task")
    response = client.post(tasks_url(user_id), fields, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def get_task(client: APIClient, user_id: str, task_id: int, /) -> dict[str, Any]:
    response = client.get(tasks_url(user_id, task_id))
    assert response.status_code == 200, response.content
    return response.json()


def parse_time(value: str) -> datetime:
    assert RFC3339_UTC.match(value), value
    return datetime.fromisoformat(value)


def next_link(response) -> str | None:
    """The absolute URL of `Link: <...>; rel="next"`, or None on the last page."""
    match = _NEXT_LINK.search(response.get("Link", ""))
    return match.group(1) if match else None


def list_all(client: APIClient, url: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every task of a list, following `Link: rel="next"` until the last page."""
    response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    tasks = response.json()
    pages = 1
    while (link := next_link(response)) is not None:
        pages += 1
        assert pages < 1000, "the Link chain does not end"
        response = client.get(link)
        assert response.status_code == 200, response.content
        tasks += response.json()
    return tasks


def ids(tasks: list[dict[str, Any]]) -> list[int]:
    return [task["id"] for task in tasks]


def run_concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread (so its own database connection), released together.

    Returns their results in the order given; an exception in a thread fails the test.
    """
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a concurrent request hung"
    if errors:
        raise errors[0]
    return results
