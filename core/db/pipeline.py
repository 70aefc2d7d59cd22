"""Fewer round trips for a short transaction: psycopg's pipeline mode on PostgreSQL.

Inside `pipelined()`, statements whose results nobody reads yet are sent together with the next one
that is read: the transaction's BEGIN goes with its first statement, and statements whose results are
not needed (an INSERT that either works or fails) go with the COMMIT. A failure still surfaces, at
the latest when the transaction commits, and still rolls everything back. Elsewhere (SQLite), and
inside a transaction already open (where the block would be a savepoint, whose failure must surface
before it is released), it does nothing: the statements then go one by one, as usual.
"""

from contextlib import contextmanager, nullcontext

from django.db import connection


@contextmanager
def pipelined():
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with nullcontext():
            yield
        return
    # The health check may replace the connection: do it before the pipeline is bound to one.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.connection.pipeline():
        yield
