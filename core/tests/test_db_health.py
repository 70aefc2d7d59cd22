"""The PostgreSQL health check before reusing a connection costs no round trip (issue 11), and still
notices a connection the server has closed (core/db/postgresql)."""

import uuid

import pytest
from django.db import connection, connections

from todo_project.tests.deploy_support import wait_until

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres_only,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the backend is PostgreSQL's"),
]


@pytest.fixture
def second_connection():
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def last_statement_of(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_a_healthy_connection_is_checked_without_sending_anything(second_connection):
    marker = f"SELECT 'marker-{uuid.uuid4().hex}'"
    with second_connection.cursor() as cursor:
        cursor.execute(marker)
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    # pg_backend_pid() was the last statement the server saw from it.
    before = last_statement_of(pid)

    assert second_connection.is_usable()
    assert second_connection.is_usable()
    assert last_statement_of(pid) == before


def close_from_the_server(wrapper) -> None:
    """Terminate the wrapper's backend from another connection, as a server restart would."""
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_connection_the_server_closed_is_found_unusable(second_connection):
    close_from_the_server(second_connection)

    wait_until(lambda: not second_connection.is_usable(), timeout=10, message="the closed connection noticed")


def test_the_health_check_replaces_a_closed_connection_before_the_next_query(second_connection):
    close_from_the_server(second_connection)
    wait_until(lambda: not second_connection.is_usable(), timeout=10, message="the closed connection noticed")

    second_connection.health_check_done = False  # a new request begins
    second_connection.close_if_health_check_failed()
    with second_connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
