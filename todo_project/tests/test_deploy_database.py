"""PostgreSQL going away and coming back under a running gunicorn; TLS as Neon requires it.

The clusters are throwaway ones of the tests' own (initdb on a free port in a temporary directory),
never the shared server; tests that need one are skipped, saying why, only when initdb is missing.
"""

import datetime
import ipaddress
import os
import shutil
import socket
import threading

import pytest

from todo_project.tests.deploy_support import (
    bearer,
    free_port,
    gunicorn,
    manage,
    postgres_bin_dir,
    postgres_cluster,
    production_env,
    wait_until,
)

pytestmark = pytest.mark.slow
NO_INITDB = "PostgreSQL's server programs (initdb, pg_ctl) are not installed"


def throwaway_cluster(**options):
    if postgres_bin_dir() is None:
        pytest.skip(NO_INITDB)
    return postgres_cluster(**options)


def assert_service_unavailable(reply, max_seconds: float) -> None:
    assert reply.status == 503, reply.body[:500]
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert body["code"] == "service_unavailable"
    assert body["request_id"] == reply.headers["x-request-id"]
    assert int(reply.headers["retry-after"]) >= 1
    assert b"Traceback" not in reply.body
    assert b"127.0.0.1" not in reply.body  # nothing about where the database is
    assert reply.seconds < max_seconds, f"took {reply.seconds:.1f} s"


@pytest.fixture
def cluster():
    with throwaway_cluster() as cluster:
        with cluster.admin_connect() as connection:
            connection.execute("CREATE DATABASE todo")
        yield cluster


def test_database_outage_is_503_then_the_same_processes_recover(cluster, tmp_path):
    env = production_env(DATABASE_URL=cluster.url("todo"), DB_CONNECT_TIMEOUT="3")
    migrated = manage("migrate", "--noinput", "-v0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    token = bearer(env["BETTER_AUTH_SECRET"], "outage-user")

    with gunicorn({**env, "GUNICORN_THREADS": "2"}, tmp_path) as server:
        master_pid = server.process.pid
        # Warm every thread's persistent connection, so the outage breaks live connections too.
        assert {server.request("GET", "/api/me/", headers=token).status for _ in range(4)} == {200}
        assert server.request("GET", "/readyz").status == 200

        cluster.stop()
        for _ in range(3):  # each thread meets its dead connection, then a refused reconnect
            assert_service_unavailable(server.request("GET", "/api/me/", headers=token), max_seconds=10)
        assert_service_unavailable(
            server.request("POST", "/api/auth/token/", body={"email": "a@example.com", "password": "x"}),
            max_seconds=10,
        )
        ready = server.request("GET", "/readyz")
        assert ready.status == 503
        assert server.request("GET", "/healthz").status == 200  # alive: no reason to restart it

        cluster.start()
        wait_until(
            lambda: server.request("GET", "/readyz").status == 200,
            timeout=30,
            message="readiness after restart",
        )
        assert {server.request("GET", "/api/me/", headers=token).status for _ in range(4)} == {200}
        assert server.process.poll() is None
        assert server.process.pid == master_pid

    logged = "\n".join(line for line in server.log().splitlines() if '"status":503' in line)
    assert '"route":"/api/me/"' in logged


class SilentServer:
    """Accepts TCP connections and never answers: a database that hangs (or a dead network path)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.clients: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(client)

    def close(self) -> None:
        self.sock.close()
        for client in self.clients:
            client.close()


def test_a_hanging_database_is_a_503_within_the_connect_timeout(tmp_path):
    silent = SilentServer()
    try:
        env = production_env(
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{silent.port}/todo", DB_CONNECT_TIMEOUT="2"
        )
        with gunicorn(env, tmp_path) as server:
            token = bearer(env["BETTER_AUTH_SECRET"], "hang-user")
            assert_service_unavailable(server.request("GET", "/api/me/", headers=token), max_seconds=8)
            ready = server.request("GET", "/readyz")
            assert ready.status == 503
            assert ready.seconds < 8
    finally:
        silent.close()


# --- TLS, as Neon requires it (sslmode=require, channel_binding=require) ----------------------------
def _self_signed_certificate(directory) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(key_path, 0o600)
    if os.geteuid() == 0:
        for path in (cert_path, key_path):
            shutil.chown(path, "postgres", "postgres")
    return str(cert_path), str(key_path)


PASSWORD = "neon-like-password-4c1f"


@pytest.fixture(scope="module")
def tls_cluster():
    """A cluster that takes TLS connections with SCRAM passwords, as Neon does (one per module)."""
    hba = [
        "local all all trust",
        "hostssl all all 127.0.0.1/32 scram-sha-256",
        "host all all 127.0.0.1/32 scram-sha-256",
    ]
    with throwaway_cluster(hba=hba) as cluster:
        cert, key = _self_signed_certificate(cluster.directory)
        with cluster.admin_connect() as connection:
            connection.execute(f"ALTER SYSTEM SET ssl_cert_file = '{cert}'")
            connection.execute(f"ALTER SYSTEM SET ssl_key_file = '{key}'")
            connection.execute("ALTER SYSTEM SET ssl = on")
            connection.execute("SELECT pg_reload_conf()")
            connection.execute(f"ALTER USER postgres PASSWORD '{PASSWORD}'")
            connection.execute("CREATE DATABASE todo")
        cluster.certificate = cert
        wait_until(lambda: _ssl_on(cluster), timeout=10, message="ssl to be on")
        yield cluster


def _ssl_on(cluster) -> bool:
    with cluster.admin_connect() as connection:
        return connection.execute("SHOW ssl").fetchone()[0] == "on"


def _set_ssl(cluster, on: bool) -> None:
    with cluster.admin_connect() as connection:
        connection.execute(f"ALTER SYSTEM SET ssl = {'on' if on else 'off'}")
        connection.execute("SELECT pg_reload_conf()")
    wait_until(lambda: _ssl_on(cluster) is on, timeout=10, message=f"ssl to be {on}")


def _connection_report(url: str, env_extra: dict | None = None):
    """Connect through the app's settings (DATABASE_URL) in a fresh process; report what we got."""
    code = (
        "import django; django.setup(); from django.db import connection; "
        "c = connection.cursor(); "
        "c.execute('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()'); "
        "print('TLS', *c.fetchone())"
    )
    env = production_env(DATABASE_URL=url, DB_CONNECT_TIMEOUT="5", **(env_extra or {}))
    return manage("shell", "-c", code, env=env, timeout=60)


@pytest.mark.parametrize(
    "query",
    ["sslmode=require", "sslmode=require&channel_binding=require", "sslmode=verify-full&sslrootcert={cert}"],
)
def test_database_url_tls_options_are_honoured(tls_cluster, query):
    url = tls_cluster.url(password=PASSWORD, query=query.format(cert=tls_cluster.certificate))
    result = _connection_report(url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "TLS True TLSv1.3" in result.stdout


def test_verify_full_refuses_a_certificate_it_cannot_trust(tls_cluster, tmp_path):
    other_cert, _ = _self_signed_certificate(tmp_path)  # a different, untrusted authority
    result = _connection_report(
        tls_cluster.url(password=PASSWORD, query=f"sslmode=verify-full&sslrootcert={other_cert}")
    )
    assert result.returncode != 0
    assert "certificate verify failed" in result.stderr


def test_sslmode_require_against_a_server_without_tls_fails_clearly(tls_cluster):
    _set_ssl(tls_cluster, False)
    try:
        result = _connection_report(tls_cluster.url(password=PASSWORD, query="sslmode=require"))
    finally:
        _set_ssl(tls_cluster, True)
    assert result.returncode != 0
    assert "server does not support SSL, but SSL was required" in result.stderr
    assert PASSWORD not in result.stderr


def test_a_wrong_password_fails_without_showing_it(tls_cluster):
    result = _connection_report(tls_cluster.url(password="not-" + PASSWORD, query="sslmode=require"))
    assert result.returncode != 0
    assert "password authentication failed" in result.stderr
    assert "not-" + PASSWORD not in result.stderr


def test_the_api_serves_over_a_tls_database_connection(tls_cluster, tmp_path):
    env = production_env(DATABASE_URL=tls_cluster.url("todo", password=PASSWORD, query="sslmode=require"))
    migrated = manage("migrate", "--noinput", "-v0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    with gunicorn(env, tmp_path) as server:
        token = bearer(env["BETTER_AUTH_SECRET"], "tls-user")
        assert server.request("GET", "/api/me/", headers=token).json()["id"] == "tls-user"
        with tls_cluster.admin_connect("todo") as connection:
            rows = connection.execute(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                "WHERE a.datname = 'todo' AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"
            ).fetchall()
        assert rows
        assert all(ssl for (ssl,) in rows)
