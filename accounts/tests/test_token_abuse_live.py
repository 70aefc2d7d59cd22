"""Token abuse that only a real server can carry: two Authorization headers in one request, header
folding, and header sizes past the server's own limits. Gunicorn (the Procfile's `web`) on SQLite.

Gunicorn joins repeated headers with a comma before Django sees them; whichever order or mix, the
request must not be authenticated as either user, and nothing may answer 500.
"""

import http.client
import socket

import pytest

from core.tests.support import better_auth_claims
from todo_project.tests.deploy_support import gunicorn, migrated_sqlite_url, production_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("abuse-live")
    env = production_env(DATABASE_URL=migrated_sqlite_url(directory))
    with gunicorn(env, directory) as server:
        yield server


def token(server, sub: str) -> str:
    import jwt

    return jwt.encode(better_auth_claims(sub), server.env["BETTER_AUTH_SECRET"].encode(), "HS256")


def get_me(server, authorizations: list[str]) -> tuple[int, dict[str, str], bytes]:
    """GET /api/me/ sending each value as its own Authorization header line."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
    try:
        connection.putrequest("GET", "/api/me/")
        for value in authorizations:
            connection.putheader("Authorization", value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def raw_request(server, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as client:
        client.sendall(head)
        reply = b""
        while chunk := client.recv(65536):
            reply += chunk
    return reply


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda s: [f"Bearer {token(s, 'alice')}", f"Bearer {token(s, 'bob')}"], id="two-users"),
        pytest.param(lambda s: [f"Bearer {token(s, 'alice')}"] * 2, id="same-token-twice"),
        pytest.param(lambda s: [f"Bearer {token(s, 'alice')}", "Bearer garbage"], id="valid-then-garbage"),
        pytest.param(lambda s: ["Bearer garbage", f"Bearer {token(s, 'alice')}"], id="garbage-then-valid"),
        pytest.param(lambda s: ["Basic YWxpY2U6cHc=", f"Bearer {token(s, 'alice')}"], id="basic-then-bearer"),
        pytest.param(lambda s: [f"Bearer {token(s, 'alice')}", ""], id="valid-then-empty"),
        pytest.param(lambda s: ["Bearer", token(s, "alice")], id="scheme-and-token-split-across-headers"),
    ],
)
def test_two_authorization_headers_authenticate_nobody(server, headers):
    status, response_headers, body = get_me(server, headers(server))

    assert status == 401, body[:300]
    assert response_headers["content-type"] == "application/problem+json"
    assert b'"id"' not in body


def test_one_valid_header_is_accepted_through_the_same_server(server):
    """The control: the cases above fail because of the second header, not the token."""
    status, _, body = get_me(server, [f"Bearer {token(server, 'alice')}"])
    assert status == 200, body[:300]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(" \t Bearer {token} \t ", {200}, id="spaces-and-tabs-at-the-ends-are-stripped"),
        pytest.param("Bearer\t{token}", {401}, id="tab-after-scheme"),
        # Gunicorn itself refuses a control character in a header value (400) before Django runs.
        pytest.param("Bearer {token}\x0b", {400, 401}, id="vertical-tab-after-token"),
    ],
)
def test_white_space_through_a_real_server(server, value, expected):
    status, _, body = get_me(server, [value.format(token=token(server, "alice"))])
    assert status in expected, body[:300]


def test_folded_authorization_header_is_not_accepted(server):
    """Obsolete line folding (RFC 9112 §5.2) hides a token on a continuation line."""
    head = (
        f"GET /api/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer\r\n {token(server, 'alice')}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    reply = raw_request(server, head)
    status = int(reply.split(b" ", 2)[1])
    assert status in (400, 401), reply[:300]


def test_authorization_header_past_the_servers_limit_is_a_clean_4xx(server):
    head = (
        f"GET /api/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {'a' * 20000}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    reply = raw_request(server, head)
    status = int(reply.split(b" ", 2)[1])
    assert 400 <= status < 500, reply[:300]
    assert server.process.poll() is None
