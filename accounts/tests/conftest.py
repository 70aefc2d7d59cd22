"""A real JWKS endpoint over HTTP on 127.0.0.1, standing in for Better Auth's /api/auth/jwks."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from accounts.tests.helpers import SigningKey


class JWKSServer:
    """Serves `document` at /api/auth/jwks and counts the requests it gets."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.raw: bytes | None = None  # served instead of `document` when set
        self.status = 200
        self.delay = 0.0  # seconds to wait before answering, like a slow or hung Better Auth
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                time.sleep(server.delay)
                body = server.raw if server.raw is not None else json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/auth/jwks"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def publish(self, *keys: SigningKey) -> None:
        self.document = {"keys": [key.public_jwk() for key in keys]}


@pytest.fixture
def jwks_server() -> Iterator[JWKSServer]:
    server = JWKSServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def jwks_only(settings, jwks_server):
    """Better Auth's stock setup: asymmetric tokens only, no shared secret, no standalone mode."""
    settings.BETTER_AUTH_SECRET = ""
    settings.LOCAL_AUTH_ENABLED = False
    settings.BETTER_AUTH_JWKS_URL = jwks_server.url
    return jwks_server


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/auth/jwks"


# Generating an RSA key takes a while; one key per algorithm serves the whole session.
_KEYS: dict[str, SigningKey] = {}


@pytest.fixture(params=["EdDSA", "ES256", "RS256"])
def signing_key(request) -> SigningKey:
    if request.param not in _KEYS:
        _KEYS[request.param] = SigningKey.generate(request.param)
    return _KEYS[request.param]


@pytest.fixture
def ed25519_key() -> SigningKey:
    return SigningKey.generate("EdDSA")
