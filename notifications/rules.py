"""What a push subscription must be before it is stored (docs/NOTIFICATIONS.md): every entry point
(the API, the admin) applies these."""

import ipaddress
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ValidationError

from notifications.models import MAX_ENDPOINT_LENGTH
from notifications.vapid import b64url, b64url_decode


def clean_endpoint(value: str) -> str:
    """An absolute https URL of a push service (http and local hosts only with WEBPUSH_ALLOW_HTTP)."""
    if len(value) > MAX_ENDPOINT_LENGTH:
        raise ValidationError(f"Ensure this field has no more than {MAX_ENDPOINT_LENGTH} characters.")
    if not value.isascii() or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValidationError("Enter the push service's URL exactly as the browser gave it.")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValidationError("Enter a valid URL.") from None
    allow_http = settings.WEBPUSH_ALLOW_HTTP
    if parts.scheme not in ({"https", "http"} if allow_http else {"https"}):
        raise ValidationError("The endpoint must be an https URL.")
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise ValidationError("Enter a valid URL.")
    if not allow_http and _is_local(host):
        # The worker POSTs to this URL: no internal addresses (a push service has a public name).
        raise ValidationError("The endpoint must be a push service's public address.")
    return value


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost") or "." not in host.strip("[]"):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True  # push services are reached by name, never by an IP literal


def clean_p256dh(value: str) -> str:
    """The browser's P-256 public key: base64url of an uncompressed point on the curve."""
    try:
        raw = b64url_decode(value) if len(value) <= 100 else b""
    except ValueError:
        raise ValidationError("Must be base64url.") from None
    if len(raw) != 65 or raw[0] != 4:
        raise ValidationError("Must be an uncompressed P-256 public key (65 bytes, base64url).")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise ValidationError("Is not a point on the P-256 curve.") from None
    return b64url(raw)


def clean_auth(value: str) -> str:
    """The browser's authentication secret: 16 bytes, base64url."""
    try:
        raw = b64url_decode(value) if len(value) <= 32 else b""
    except ValueError:
        raise ValidationError("Must be base64url.") from None
    if len(raw) != 16:
        raise ValidationError("Must be a 16-byte authentication secret (base64url).")
    return b64url(raw)
