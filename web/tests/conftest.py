"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

No browser is ever downloaded: Playwright launches the system Chromium (`CHROMIUM_PATH`, default
/usr/bin/chromium). Without it, or without the playwright package, the browser tests are skipped
with a message saying what to install; the rest of the suite runs as usual. CI sets
REQUIRE_BROWSER_TESTS, which turns that skip into a failure.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import WSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
BASE_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = BASE_DIR / "test-artifacts"
AXE_SOURCE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
PASSWORD = "correct horse battery staple 42"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    expect = sync_playwright = None


def browser_skip_reason() -> str | None:
    if sync_playwright is None:
        return "Browser tests need the playwright package (pip install -r requirements.txt)."
    if not (Path(CHROMIUM_PATH).is_file() or shutil.which(CHROMIUM_PATH)):
        return (
            f"Browser tests need Debian's Chromium at {CHROMIUM_PATH} (apt-get install -y chromium, "
            "or set CHROMIUM_PATH); .ci/run installs it."
        )
    return None


@pytest.fixture(scope="module")
def browser():
    reason = browser_skip_reason()
    if reason and os.environ.get("REQUIRE_BROWSER_TESTS"):
        pytest.fail(f"REQUIRE_BROWSER_TESTS is set (as in .ci/run), but: {reason}")
    if reason:
        pytest.skip(reason)
    # Playwright's sync API runs an event loop in this thread; Django would then refuse the ORM
    # calls the tests make to set up and check data, though nothing here is really asynchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # A busy two-core machine (other test suites running) can keep Chromium waiting for seconds:
    # assertions wait for their state up to 10 s, as actions do (the context's default timeout).
    expect.set_options(timeout=10_000)
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class OneAtATimeLiveServerThread(LiveServerThread):
    """Django's live server, answering one request at a time.

    SQLite's test database lives in memory, and the server thread shares the test's one
    connection: two requests at once (the page fetches its list, counts and tags together) would
    begin two transactions on it. Serving them in turn keeps the browser's concurrency real and
    the database sane; Django closes each connection when the server is not threaded.
    """

    server_class = WSGIServer

    def _create_server(self, connections_override=None):
        return self.server_class((self.host, self.port), QuietWSGIRequestHandler, allow_reuse_address=False)


@pytest.fixture(scope="session")
def web_live_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        shared = {
            conn.alias: conn
            for conn in connections.all()
            if conn.vendor == "sqlite" and conn.is_in_memory_db()
        }
        for conn in shared.values():
            conn.inc_thread_sharing()
        thread = OneAtATimeLiveServerThread("localhost", StaticFilesHandler, connections_override=shared)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        try:
            yield f"http://localhost:{thread.port}"
        finally:
            thread.terminate()
            for conn in shared.values():
                conn.dec_thread_sharing()


@pytest.fixture
def site(web_live_server, transactional_db):
    """The live server's base URL; each test's data is committed (the server must see it)."""
    # Cookies stay Secure, as in production: Chromium keeps Secure cookies for http://localhost.
    return web_live_server


@pytest.fixture
def context(browser, site):
    """A fresh browser profile (no cookies) in New York's time zone, 1280 px wide."""
    context = browser.new_context(
        base_url=site,
        viewport={"width": 1280, "height": 900},
        timezone_id="America/New_York",
        locale="en-US",
    )
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.problems = []  # script errors the page hit: a test fails on any
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            page.problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" and "status of 4" not in message.text
            else None
        ),
    )
    yield page
    assert page.problems == []


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def run_axe(page, *, context: str = "document") -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.evaluate(AXE_SOURCE.read_text())
    result = page.evaluate(
        "async (context) => await axe.run(context === 'document' ? document : context,"
        " {resultTypes: ['violations']})",
        context,
    )
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
        if violation["impact"] in {"serious", "critical"}
    ]


def write_json(name: str, data) -> None:
    artifact(name).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
