"""The Procfile's processes for real: gunicorn serving the app, static files, release, SIGTERM."""

import re
import signal
import socket
import subprocess
import time

import pytest

from todo_project.tests.deploy_support import (
    BASE_DIR,
    gunicorn,
    migrated_sqlite_url,
    procfile_command,
    production_env,
    wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path):
    env = production_env(DATABASE_URL=migrated_sqlite_url(tmp_path), DJANGO_ADMIN_PATH="ops-7f3a/")
    with gunicorn(env, tmp_path) as server:
        yield server


def test_admin_static_files_are_served_with_hashed_names_and_far_future_caching(server):
    page = server.request("GET", "/ops-7f3a/login/")
    assert page.status == 200
    stylesheet = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.body)
    assert stylesheet, "the admin should link its CSS by hashed name"

    css = server.request("GET", stylesheet.group(1).decode(), headers={"Accept-Encoding": "gzip"})
    assert css.status == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["content-encoding"] == "gzip"
    assert "immutable" in css.headers["cache-control"]
    assert "max-age=315360000" in css.headers["cache-control"]


def test_api_docs_load_their_assets_from_our_own_static_files(server):
    page = server.request("GET", "/api/docs/")
    assert page.status == 200
    assets = re.findall(rb'src="(/static/drf_spectacular_sidecar/[^"]+)"', page.body)
    assert assets, "the docs page should load Swagger UI from our static files, not a CDN"
    for asset in assets:
        assert re.search(rb"\.[0-9a-f]{12}\.js$", asset), asset
        assert server.request("GET", asset.decode()).status == 200


def test_admin_lives_only_at_the_configured_path(server):
    assert server.request("GET", "/admin/").status == 404
    moved = server.request("GET", "/ops-7f3a/")
    assert moved.status == 302
    assert moved.headers["location"].startswith("/ops-7f3a/login/")


def test_admin_header_names_the_site(server):
    page = server.request("GET", "/ops-7f3a/login/")
    assert b"Todo administration" in page.body


def test_sigterm_lets_a_request_in_flight_finish(tmp_path):
    env = production_env(DATABASE_URL=migrated_sqlite_url(tmp_path), GUNICORN_GRACEFUL_TIMEOUT="20")
    with gunicorn(env, tmp_path) as server:
        body = b'{"email": "slow@example.com", "password": "a long enough password 123"}'
        head = (
            "POST /api/auth/register/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
            # A slow client: the request is under way (headers and half the body are in) ...
            client.sendall(head + body[:20])
            time.sleep(1)
            server.process.send_signal(signal.SIGTERM)
            # ... when the platform asks gunicorn to stop.
            wait_until(lambda: "Handling signal: term" in server.log(), timeout=15, message="the signal")
            time.sleep(0.5)
            assert server.process.poll() is None, "gunicorn must wait for the request in flight"
            client.sendall(body[20:])
            response = b""
            while chunk := client.recv(65536):
                response += chunk
        assert response.startswith(b"HTTP/1.1 201 "), response[:300]
        assert b'"access"' in response
        assert server.process.wait(timeout=30) == 0


def test_gunicorn_collects_static_files_when_the_build_did_not(tmp_path):
    static_root = tmp_path / "static"
    env = production_env(DATABASE_URL=migrated_sqlite_url(tmp_path), DJANGO_STATIC_ROOT=str(static_root))
    with gunicorn(env, tmp_path) as server:
        assert (static_root / "staticfiles.json").exists()
        page = server.request("GET", "/admin/login/")
        stylesheet = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.body)
        assert stylesheet
        assert server.request("GET", stylesheet.group(1).decode()).status == 200


def run_release(env: dict[str, str]) -> subprocess.CompletedProcess:
    """The Procfile's release command, as the platform runs it."""
    return subprocess.run(
        ["sh", "-c", procfile_command("release")],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_release_migrates_through_the_unpooled_url_when_one_is_given(tmp_path):
    direct = tmp_path / "direct.sqlite3"
    env = production_env(
        # The pooled URL points nowhere: only the direct one may be used for migrations.
        DATABASE_URL="postgres://nobody@127.0.0.1:9/unreachable",
        DATABASE_URL_UNPOOLED=f"sqlite:///{direct}",
    )
    result = run_release(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Applying accounts.0001_initial... OK" in result.stdout
    assert direct.stat().st_size > 0


def test_release_migrates_through_database_url_otherwise(tmp_path):
    database = tmp_path / "only.sqlite3"
    env = production_env(DATABASE_URL=f"sqlite:///{database}")
    result = run_release(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert database.stat().st_size > 0


def test_readme_documents_every_variable_gunicorn_conf_reads():
    source = (BASE_DIR / "gunicorn.conf.py").read_text()
    read = set(re.findall(r"""(?:_int|os\.environ\.get)\(\s*["']([A-Z0-9_]+)["']""", source))
    assert {"GUNICORN_WORKERS", "GUNICORN_THREADS", "PORT"} <= read  # the pattern still finds them
    deployment = (BASE_DIR / "README.md").read_text().partition("\n## Deployment\n")[2]
    documented = set(re.findall(r"`([A-Z0-9_]+)`", deployment))
    assert read - documented == set(), "add these to the README's Deployment section"
