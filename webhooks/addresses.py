"""Where a webhook may point (docs/WEBHOOKS.md, "SSRF"): the URL rules checked at creation, and the
network backend that checks the address every delivery actually connects to.

The URL is parsed with httpx, the library that sends, so that the check and the request never read
one URL two ways. Names are resolved with the system resolver, as the connection will be.
"""

import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx
from django.core.exceptions import ValidationError

URL_MAX_LENGTH = 2048
# NAT64's well-known prefix (RFC 6052) carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(httpcore.ConnectError):
    """A delivery was about to connect to an address webhooks may not reach."""


def address_refused(address: IPAddress) -> str | None:
    """Why webhooks may not reach `address` (a short reason), or None when it is a public address.

    IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4, Teredo) are judged by that address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]  # the client's address (the server's is public by design)
        if embedded is not None:
            reason = address_refused(embedded)
            if reason is not None:
                return reason
            if address.ipv4_mapped is not None:
                return None
    for reason, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    ):
        if flag:
            return reason
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal resolves to itself), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def clean_webhook_url(value: object, *, allow_private: bool) -> str:
    """The URL a webhook may be created with, or ValidationError keyed `url` saying why not.

    `https` only, no credentials, and no name or literal that resolves to a refused address (a
    name that does not resolve yet is accepted: every delivery checks again). With
    `allow_private` (local testing) any address and `http` are accepted.
    """

    def refuse(message: str):
        return ValidationError({"url": [message]})

    if not isinstance(value, str):
        raise refuse("Must be a string.")
    if len(value) > URL_MAX_LENGTH:
        raise refuse(f"At most {URL_MAX_LENGTH} characters.")
    if not value or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise refuse("Must be an absolute URL without spaces or control characters.")
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise refuse("Not a valid URL.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if url.scheme not in schemes:
        raise refuse("Must be an https URL.")
    if not url.host:
        raise refuse("Must name a host.")
    if url.userinfo:
        raise refuse("Must not contain a user name or password.")
    if url.fragment:
        raise refuse("Must not contain a fragment (#...).")
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        raise refuse("Not a valid port.") from None
    if not 0 < port < 65536:
        raise refuse("Not a valid port.")
    if allow_private:
        return str(url)
    try:
        addresses = _resolve(url.host, port)
    except (socket.gaierror, UnicodeError, OSError):
        return str(url)  # does not resolve (yet): every delivery checks the address it connects to
    for address in addresses:
        reason = address_refused(address)
        if reason is not None:
            raise refuse(f"Must not point at a {reason} address ({address}).")
    return str(url)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, resolving the name itself and connecting only to a permitted
    address: what DNS answers at delivery time is what is checked (no rebinding past the check).

    httpcore still starts TLS with the URL's host name, so the certificate is verified against it.
    """

    def __init__(self, *, allow_private: bool):
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _resolve(host, port)
        except (socket.gaierror, UnicodeError, OSError) as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
        refused: list[str] = []
        last_error: Exception | None = None
        for address in addresses:
            reason = None if self.allow_private else address_refused(address)
            if reason is not None:
                refused.append(f"{address} ({reason})")
                continue
            try:
                return super().connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as error:
                last_error = error
        if last_error is not None:
            raise last_error
        raise AddressRefused(f"refused to connect to {', '.join(refused)}")

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never configured
        raise AddressRefused("unix sockets are not webhook destinations")


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through GuardedBackend; no proxies from the
    environment (a proxy would make the connected address the proxy's, not the one checked)."""

    def __init__(self, *, allow_private: bool, timeout: float):
        super().__init__(trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=timeout,
            network_backend=GuardedBackend(allow_private=allow_private),
        )
