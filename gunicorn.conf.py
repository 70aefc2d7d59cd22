"""Gunicorn settings for `web` in the Procfile, every value from the environment (README: Deployment).

Threads (gthread) suit this app: a request mostly waits on PostgreSQL, and each thread keeps its own
persistent database connection, so one instance holds at most WORKERS x THREADS connections.
"""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")

# Read now, in the master: a missing secret or a bad value stops the deploy before it binds a port.
from django.conf import settings as django_settings

BASE_DIR = Path(__file__).resolve().parent


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "todo_project.wsgi:application"
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", 2))
threads = _int("GUNICORN_THREADS", 4)
# A worker silent this long is killed and replaced; well above DB_CONNECT_TIMEOUT so that a
# database outage shows as quick 503s, not as killed workers.
timeout = _int("GUNICORN_TIMEOUT", 30)
# SIGTERM: stop accepting, let in-flight requests finish for up to this long. Most platforms send
# SIGKILL 30 s after SIGTERM; stay under it.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 25)
# Idle keep-alive connections; behind a load balancer, make it longer than the balancer's own idle
# timeout so that the balancer, not gunicorn, closes idle connections.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then (0: never); jitter keeps them from restarting all at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 0)
backlog = _int("GUNICORN_BACKLOG", 2048)
# The heartbeat file on tmpfs: a slow disk (container overlay) cannot make workers look dead.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# Several instances may share one host: no shared control socket in the home directory.
control_socket_disable = True
proc_name = "todo-api"

# The app logs one line per request itself (core/request_log.py); no access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
if django_settings.LOG_FORMAT == "json":
    # Gunicorn's own messages as JSON lines on stdout too, like the app's (same formatter).
    logconfig_dict = {
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
        "formatters": {"json": {"()": "core.request_log.JSONFormatter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        },
    }


def on_starting(server) -> None:
    """Collect static files if the build did not (whitenoise needs the manifest to serve them)."""
    if django_settings.DEBUG:
        return
    manifest = Path(django_settings.STATIC_ROOT) / "staticfiles.json"
    if not manifest.exists():
        server.log.info("Static files were not collected at build time; collecting them now.")
        subprocess.run(  # noqa: S603
            [sys.executable, str(BASE_DIR / "manage.py"), "collectstatic", "--noinput", "-v0"],
            check=True,
            cwd=BASE_DIR,
        )


# A request body the application did not read (a 413 answered from Content-Length, a 401 before the
# body was looked at) is read and discarded after the answer, up to this bound. Otherwise gunicorn
# reads at most 64 KiB of it and then closes the connection with the rest unread, and the kernel
# resets it: a client still sending its body never sees the answer (issue 12), and the next request
# on a kept-alive connection fails. Bounded in bytes and time, so a client cannot hold a thread.
UNREAD_BODY_DRAIN_BYTES = 8 * 1024 * 1024
UNREAD_BODY_DRAIN_SECONDS = 5.0


def _declared_length(req) -> int | None:
    for name, value in req.headers:
        if name == "CONTENT-LENGTH":
            return int(value) if value.isdigit() else None
    return None


def pre_request(worker, req) -> None:
    """A body declared larger than the drain bound: the answer says `Connection: close`, so the client
    knows not to send another request on this connection."""
    length = _declared_length(req)
    if length is not None and length > UNREAD_BODY_DRAIN_BYTES:
        req.must_close = True


def post_request(worker, req, environ, resp) -> None:
    """Read and discard what is left of the request body (see UNREAD_BODY_DRAIN_BYTES)."""
    body = getattr(req, "body", None)
    if body is None:
        return
    # The common case, a body read to its end (or none at all): nothing to drain, no socket calls.
    if getattr(body.reader, "length", None) == 0 and not body.buf.tell():
        return
    sock = getattr(getattr(req, "unreader", None), "sock", None)
    prior_timeout = sock.gettimeout() if sock is not None else None
    deadline = time.monotonic() + UNREAD_BODY_DRAIN_SECONDS
    drained = 0
    try:
        while drained < UNREAD_BODY_DRAIN_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if sock is not None:
                sock.settimeout(remaining)
            chunk = body.read(64 * 1024)
            if not chunk:
                return
            drained += len(chunk)
    except Exception:
        return  # a timeout, a reset, a malformed chunk: gunicorn then closes the connection
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(prior_timeout)
