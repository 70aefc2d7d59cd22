"""Helpers for the suites that drive a real server (soak, live concurrency).

Servers and throwaway PostgreSQL clusters come from todo_project/tests/deploy_support.py; this adds
a scratch database beside the one a test run uses, a keep-alive HTTP client that never raises on an
answer, and the process ids of a gunicorn's workers (to show that nothing was restarted).
"""

import contextlib
import http.client
import json
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import jwt

from todo_project.tests.deploy_support import manage, migrated_sqlite_url, production_env


@contextlib.contextmanager
def scratch_database(database: dict, directory: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database of the same kind and server as `database` (a Django
    DATABASES entry): a SQLite file in `directory`, or a new PostgreSQL database `soak_<random>` on
    the same server, dropped afterwards."""
    if database["ENGINE"].endswith("sqlite3"):
        yield migrated_sqlite_url(directory)
        return
    import psycopg

    name = f"soak_{secrets.token_hex(6)}"
    credentials = quote(database["USER"] or "postgres", safe="")
    if database.get("PASSWORD"):
        credentials += ":" + quote(database["PASSWORD"], safe="")
    host, port = database.get("HOST") or "127.0.0.1", database.get("PORT") or 5432
    admin = psycopg.connect(
        host=host,
        port=port,
        user=database["USER"] or "postgres",
        password=database.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    )
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgres://{credentials}@{host}:{port}/{name}"
        migrated = manage("migrate", "--noinput", "-v0", env=production_env(DATABASE_URL=url), timeout=300)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        yield url
    finally:
        with contextlib.suppress(Exception):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def bearer_for(secret: str, sub: str, lifetime: int = 3600) -> dict[str, str]:
    """An Authorization header with a token of Better Auth's shape for `sub`."""
    now = int(time.time())
    claims = {"sub": sub, "id": sub, "iat": now, "exp": now + lifetime, "email": f"{sub.lower()}@example.com"}
    return {"Authorization": f"Bearer {jwt.encode(claims, secret.encode(), 'HS256')}"}


@dataclass
class Answer:
    """What came back: an HTTP answer (`status` > 0) or a transport failure (`status` 0, `error`)."""

    status: int
    headers: dict[str, str]
    body: bytes
    started: float
    finished: float
    error: str = ""

    def json(self):
        return json.loads(self.body)


class KeepAliveClient:
    """One persistent HTTP/1.1 connection to 127.0.0.1, reopened after any failure. `request` never
    raises: a refused, reset or timed-out exchange is an Answer with status 0."""

    def __init__(self, port: int, timeout: float = 15) -> None:
        self.port = port
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(self, method: str, path: str, body=None, headers: dict[str, str] | None = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        all_headers.update(headers or {})
        started = time.monotonic()
        try:
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self._connection.request(method, path, body=data, headers=all_headers)
            response = self._connection.getresponse()
            payload = response.read()
            answer = Answer(
                response.status,
                {key.lower(): value for key, value in response.getheaders()},
                payload,
                started,
                time.monotonic(),
            )
            if response.will_close:
                self.close()
            return answer
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return Answer(0, {}, b"", started, time.monotonic(), error=f"{type(error).__name__}: {error}")


def send_and_drop(
    port: int, method: str, path: str, body=None, headers: dict[str, str] | None = None
) -> None:
    """Send a whole request on a new connection and close it without reading the answer: the
    server does the work, the client never learns the outcome (an answer lost on the way back).

    It waits until the answer starts to arrive, so the work is done before the client retries, as
    when a network drops a response (a request still queued could otherwise overtake later ones)."""
    data = json.dumps(body).encode() if body is not None else b""
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Length: {len(data)}",
        "Connection: close",
    ]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        connection.settimeout(20)
        connection.recv(1, socket.MSG_PEEK)


def worker_pids(master_pid: int) -> set[int]:
    """The pids of a process's direct children (a gunicorn master's workers), from /proc."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may contain spaces and parentheses: the ppid follows the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master_pid:
                children.add(int(stat.parent.name))
    return children
