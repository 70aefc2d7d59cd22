"""A real Web Push service on 127.0.0.1 for the tests: a threaded HTTP server that checks what a
push service checks (the VAPID JWT: ES256 signature by the configured key, `aud`, `exp`, `sub`),
decrypts the `aes128gcm` body with the fake browser's private key (http_ece), and records the
payloads. Each subscription can be told what to answer, one status per request.
"""

import base64
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class FakeBrowser:
    """One browser's subscription: a real P-256 key pair and a 16-byte auth secret."""

    name: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def subscription_json(self) -> dict:
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }


class FakePushService:
    def __init__(self, vapid_public_key: str, subject: str):
        self.vapid_public_key = vapid_public_key
        self.subject = subject
        self.browsers: dict[str, FakeBrowser] = {}
        self.script: dict[str, deque] = defaultdict(deque)
        self.received: dict[str, list[dict]] = defaultdict(list)
        self.requests: dict[str, int] = defaultdict(int)
        self.problems: list[str] = []
        self.lock = threading.Lock()
        self.delay_seconds = 0.0
        self.holds: dict[str, threading.Event] = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = service.handle(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def browser(self, name: str) -> FakeBrowser:
        browser = FakeBrowser(
            name,
            f"{self.origin}/push/{name}",
            ec.generate_private_key(ec.SECP256R1()),
            bytes(range(16))[::-1],
        )
        self.browsers[name] = browser
        return browser

    def answer(self, name: str, *statuses: int) -> None:
        """The next requests for `name` get these statuses, then 201 again."""
        self.script[name].extend(statuses)

    def hold(self, name: str) -> threading.Event:
        """The next request for `name` waits, counted but unanswered, until the event is set."""
        self.holds[name] = threading.Event()
        return self.holds[name]

    def handle(self, path: str, headers: dict, body: bytes) -> int:
        name = path.rsplit("/", 1)[-1]
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        with self.lock:
            self.requests[name] += 1
            status = self.script[name].popleft() if self.script[name] else 201
            held = self.holds.pop(name, None)
        if held is not None:
            held.wait(timeout=60)
        try:
            payload = self._verify(name, headers, body)
        except Exception as exc:  # every failed check is reported to the test
            with self.lock:
                self.problems.append(f"{name}: {exc!r}")
            return 400
        if 200 <= status < 300:
            with self.lock:
                self.received[name].append(payload)
        return status

    def _verify(self, name: str, headers: dict, body: bytes) -> dict:
        headers = {key.lower(): value for key, value in headers.items()}
        scheme, _, params = headers["authorization"].partition(" ")
        assert scheme == "vapid", scheme
        parts = dict(part.strip().split("=", 1) for part in params.split(","))
        assert parts["k"] == self.vapid_public_key, "k is not the configured public key"
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(parts["k"]))
        claims = jwt.decode(parts["t"], public_key, algorithms=["ES256"], audience=self.origin)
        assert claims["exp"] <= time.time() + 24 * 3600, "exp more than 24 hours ahead"
        assert claims["sub"] == self.subject, claims
        assert headers["content-encoding"] == "aes128gcm", headers
        assert int(headers["ttl"]) > 0
        browser = self.browsers[name]
        plain = http_ece.decrypt(
            body, private_key=browser.private_key, auth_secret=browser.auth_secret, version="aes128gcm"
        )
        return json.loads(plain)
