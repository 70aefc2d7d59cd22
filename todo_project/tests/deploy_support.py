"""Helpers for the deployment tests: real gunicorn processes and throwaway PostgreSQL clusters.

Every process started here listens on a free port, has a bounded wait on every step, and is stopped
(SIGTERM, then SIGKILL to its whole process group) by the context manager that started it.
"""

import atexit
import contextlib
import functools
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jwt

BASE_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 60  # seconds; two busy cores can make a cold Django start slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _session_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="todo-deploy-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


SESSION_DIR = _session_dir()


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a production process: debug off, fresh secrets, JSON logs."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CORS_", "API_RATE_", "GUNICORN_", "DB_"))
        and key not in {"PORT", "NUM_PROXIES", "CACHE_KEY_PREFIX", "WEB_CONCURRENCY"}
    }
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DJANGO_SETTINGS_MODULE": "todo_project.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "BETTER_AUTH_SECRET": secrets.token_urlsafe(40),
            "LOCAL_AUTH_ENABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@functools.cache
def collected_static() -> Path:
    """`manage.py collectstatic` once per test session (the documented build step)."""
    root = SESSION_DIR / "static"
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_STATIC_ROOT": str(root),
        "DJANGO_SECRET_KEY": "collectstatic-only-" + "x" * 40,
        "BETTER_AUTH_SECRET": "collectstatic-only-" + "y" * 40,
    }
    env.pop("DATABASE_URL", None)
    result = manage("collectstatic", "--noinput", "-v0", env=env)
    assert result.returncode == 0, result.stderr
    return root


@functools.cache
def _migrated_sqlite_template() -> Path:
    path = SESSION_DIR / "template.sqlite3"
    result = manage("migrate", "--noinput", "-v0", env=production_env(DATABASE_URL=f"sqlite:///{path}"))
    assert result.returncode == 0, result.stderr
    return path


def migrated_sqlite_url(directory: Path) -> str:
    """A fresh, migrated SQLite database for one test's server processes."""
    path = directory / "db.sqlite3"
    shutil.copyfile(_migrated_sqlite_template(), path)
    return f"sqlite:///{path}"


def procfile_command(process: str) -> str:
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise LookupError(f"No {process!r} process in the Procfile")


# --- HTTP -------------------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self):
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> Reply:
    """One HTTP request on a new connection; never follows redirects."""
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    return Reply(
        response.status,
        {key.lower(): value for key, value in response.getheaders()},
        payload,
        time.monotonic() - started,
    )


def bearer(secret: str, sub: str, **claims) -> dict[str, str]:
    """An Authorization header with a token of Better Auth's shape, signed with `secret`."""
    now = int(time.time())
    payload = {"sub": sub, "id": sub, "iat": now, "exp": now + 900, "email": f"{sub}@example.com"}
    payload.update(claims)
    return {"Authorization": f"Bearer {jwt.encode(payload, secret.encode(), 'HS256')}"}


def wait_until(predicate, *, timeout: float, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


# --- Servers ----------------------------------------------------------------------------------------
class LoggedProcess:
    """A process of ours whose output goes to `log_path`: read it whole, or as its JSON lines."""

    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_entries(self) -> list[dict]:
        entries = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries


@dataclass
class Server(LoggedProcess):
    process: subprocess.Popen
    port: int
    env: dict[str, str]
    log_path: Path

    def request(self, method: str, path: str, **kwargs) -> Reply:
        return request(self.port, method, path, **kwargs)


def _healthy(port: int) -> bool:
    try:
        return request(port, "GET", "/healthz", timeout=2).status == 200
    except OSError:
        return False


def stop_process_group(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # workers an early-dying master left behind
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def start_gunicorn(env: dict[str, str], directory: Path, *, name: str = "web") -> Server:
    """Start the Procfile's `web` process on a free port; `wait_ready` before using it."""
    port = free_port()
    env = {"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "4", **env, "PORT": str(port)}
    if "DJANGO_STATIC_ROOT" not in env:
        env["DJANGO_STATIC_ROOT"] = str(collected_static())
    env.setdefault("GUNICORN_BIND", f"127.0.0.1:{port}")
    log_path = directory / f"{name}-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["sh", "-c", "exec " + procfile_command("web")],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(process, port, env, log_path)


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not _healthy(server.port):
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"gunicorn did not start:\n{server.log()[-4000:]}")
        time.sleep(0.2)


@contextlib.contextmanager
def gunicorn(env: dict[str, str], directory: Path, *, name: str = "web") -> Iterator[Server]:
    """The Procfile's `web` process on a free port, ready to serve; stopped on exit."""
    with gunicorns([env], directory, names=[name]) as (server,):
        yield server


@contextlib.contextmanager
def gunicorns(envs: list[dict[str, str]], directory: Path, *, names=None) -> Iterator[tuple[Server, ...]]:
    """Several gunicorns, started side by side (a cold start costs seconds on a busy machine)."""
    names = names or [f"web{number}" for number in range(len(envs))]
    servers: list[Server] = []
    try:
        for env, name in zip(envs, names, strict=True):
            servers.append(start_gunicorn(env, directory, name=name))
        for server in servers:
            wait_ready(server)
        yield tuple(servers)
    finally:
        for server in servers:
            stop_process_group(server.process)


# --- Celery workers ------------------------------------------------------------------------------------
@dataclass
class Worker(LoggedProcess):
    process: subprocess.Popen
    env: dict[str, str]
    log_path: Path


def start_worker(env: dict[str, str], directory: Path, *, name: str = "worker", extra: str = "") -> Worker:
    """Start the Procfile's `worker` process (plus `extra` arguments); `wait_worker_ready` before use."""
    log_path = directory / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            ["sh", "-c", f"exec {procfile_command('worker')} {extra}"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Worker(process, env, log_path)


def wait_worker_ready(worker: Worker) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while " ready." not in worker.log():
        if worker.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"The Celery worker did not start:\n{worker.log()[-4000:]}")
        time.sleep(0.2)


@contextlib.contextmanager
def celery_worker(
    env: dict[str, str], directory: Path, *, name: str = "worker", extra: str = ""
) -> Iterator[Worker]:
    """The Procfile's `worker` process, ready to consume; stopped (its whole group) on exit."""
    worker = start_worker(env, directory, name=name, extra=extra)
    try:
        wait_worker_ready(worker)
        yield worker
    finally:
        stop_process_group(worker.process)


def worker_env(directory: Path, *, broker: str = "embedded", **overrides: str) -> dict[str, str]:
    """A production environment on a fresh SQLite database in `directory`, with a broker of its own:
    the embedded transport in `directory`, or Redis with a queue no other test consumes."""
    env = production_env(DATABASE_URL=migrated_sqlite_url(directory), **overrides)
    if broker == "embedded":
        env["CELERY_BROKER_URL"] = "filesystem://localhost/"
        env["CELERY_EMBEDDED_BROKER_DIR"] = str(directory / "broker")
    else:
        env["CELERY_BROKER_URL"] = broker
        env["CELERY_QUEUE"] = f"test-{secrets.token_hex(6)}"
    return env


# --- Throwaway PostgreSQL clusters --------------------------------------------------------------------
def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are, or None when PostgreSQL's server programs are not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent.parent.name)
    return candidates[-1].parent if candidates else None


@dataclass
class PostgresCluster:
    """A PostgreSQL server of our own in a temporary directory, never the shared one."""

    directory: Path
    port: int
    bin_dir: Path
    settings: dict[str, str] = field(default_factory=dict)
    hba: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            log = self.directory / "server.log"
            server_log = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"{args[0]} failed: {result.stdout}{result.stderr}\n{server_log}")
        return result

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        conf = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.directory}'",
            "fsync": "off",
            "max_connections": "40",
            "shared_buffers": "16MB",
            **self.settings,
        }
        with open(self.data / "postgresql.conf", "a") as config:
            config.writelines(f"{key} = {value}\n" for key, value in conf.items())
        if self.hba:
            (self.data / "pg_hba.conf").write_text("\n".join(self.hba) + "\n")

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def admin_connect(self, dbname: str = "postgres"):
        """A superuser connection over the cluster's own Unix socket (trusted, no password)."""
        import psycopg

        return psycopg.connect(
            host=str(self.directory), port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def url(self, dbname: str = "postgres", *, password: str = "", query: str = "") -> str:
        credentials = f"postgres:{password}" if password else "postgres"
        return f"postgres://{credentials}@127.0.0.1:{self.port}/{dbname}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def postgres_cluster(**options) -> Iterator[PostgresCluster]:
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None, "initdb is not installed"
    directory = Path(tempfile.mkdtemp(prefix="todo-pg-"))
    cluster = PostgresCluster(directory=directory, port=free_port(), bin_dir=bin_dir, **options)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.is_running():
            with contextlib.suppress(Exception):
                cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
