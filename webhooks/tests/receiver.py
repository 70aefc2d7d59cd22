"""A real HTTP receiver on 127.0.0.1 for the delivery tests: a threaded server that records every
request and answers as told (a status, a redirect, a huge body, or not until released)."""

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes
    path: str


@dataclass
class Behaviour:
    status: int = 200
    location: str | None = None  # a redirect's target
    body_bytes: int = 0  # answer with this many bytes of body (streamed)
    hang: bool = False  # hold the request until the receiver is closed
    sent: list[int] = field(default_factory=list)  # body bytes the server managed to write


class Receiver:
    def __init__(self, behaviour: Behaviour | None = None):
        self.behaviour = behaviour or Behaviour()
        self.hits: list[Hit] = []
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.hits.append(Hit({k.lower(): v for k, v in self.headers.items()}, body, self.path))
                behaviour = receiver.behaviour
                if behaviour.hang:
                    receiver.released.wait(30)
                    return
                self.send_response(behaviour.status)
                if behaviour.location:
                    self.send_header("Location", behaviour.location)
                self.send_header("Content-Length", str(behaviour.body_bytes))
                self.end_headers()
                written = 0
                chunk = b"x" * 65536
                try:
                    while written < behaviour.body_bytes:
                        self.wfile.write(chunk)
                        written += len(chunk)
                except OSError:
                    pass  # the client hung up
                finally:
                    behaviour.sent.append(written)

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for_hits(self, count: int, timeout: float = 10.0) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while len(self.hits) < count:
            assert time.monotonic() < deadline, f"expected {count} hits, got {len(self.hits)}"
            time.sleep(0.01)
        return self.hits

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
