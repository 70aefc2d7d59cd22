"""The VAPID key pair (RFC 8292) that identifies this server to the push services.

`WEBPUSH_VAPID_PRIVATE_KEY` holds the private key as web-push tools print it (base64url of the raw
32-byte scalar), or a PEM / base64url DER key; the public key, the browser's
`applicationServerKey`, is derived from it. Without a key Web Push is off: the public-key route
answers 503 and the worker marks nothing it cannot send (docs/NOTIFICATIONS.md).
"""

import base64
import binascii
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from py_vapid import Vapid

# A signed VAPID header is reused for this long per push service origin; its JWT lives 12 hours
# (RFC 8292 allows at most 24), so a reused one always has hours left.
HEADER_REUSE_SECONDS = 3600
TOKEN_LIFETIME_SECONDS = 12 * 3600


class VapidNotConfigured(Exception):
    """WEBPUSH_VAPID_PRIVATE_KEY is unset or not a P-256 private key."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url, padding optional: anything else raises ValueError."""
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not base64url")
    stripped = text.rstrip("=")
    if any(c not in _B64URL for c in stripped) or len(stripped) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class VapidKeys:
    vapid: Vapid
    public_key: str  # base64url uncompressed P-256 point: the browser's applicationServerKey
    subject: str


def _load_private_key(text: str) -> Vapid:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("not a P-256 key")
        return Vapid(key)
    raw = b64url_decode(text)
    if len(raw) == 32:
        return Vapid(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))
    key = serialization.load_der_private_key(raw, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 key")
    return Vapid(key)


@lru_cache(maxsize=1)
def _keys(private_key: str, subject: str) -> VapidKeys:
    if not private_key.strip():
        raise VapidNotConfigured("WEBPUSH_VAPID_PRIVATE_KEY is not set; Web Push is off.")
    try:
        vapid = _load_private_key(private_key)
    except (ValueError, TypeError) as exc:
        raise VapidNotConfigured(
            "WEBPUSH_VAPID_PRIVATE_KEY is not a P-256 private key (base64url raw, DER or PEM)."
        ) from exc
    if not (subject.startswith("mailto:") or subject.startswith("https://")):
        raise VapidNotConfigured("WEBPUSH_VAPID_SUBJECT must be a mailto: or https: URL.")
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKeys(vapid=vapid, public_key=b64url(public), subject=subject)


def vapid_keys() -> VapidKeys:
    """The configured keys; raises VapidNotConfigured with a message an operator can act on."""
    return _keys(settings.WEBPUSH_VAPID_PRIVATE_KEY or "", settings.WEBPUSH_VAPID_SUBJECT or "")


def generate_private_key() -> tuple[str, str]:
    """A new pair as (private, public), both base64url as web-push tools print them."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return private, b64url(public)


_headers: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}
_headers_lock = threading.Lock()


def authorization_header(audience: str) -> dict[str, str]:
    """`Authorization: vapid t=<jwt>,k=<public key>` for a push service origin, signed once an hour
    per origin rather than per message (an ECDSA signature per push is wasted work)."""
    keys = vapid_keys()
    now = time.time()
    cache_key = (keys.public_key, audience)
    with _headers_lock:
        cached = _headers.get(cache_key)
        if cached and cached[0] > now:
            return cached[1]
    claims = {"aud": audience, "sub": keys.subject, "exp": int(now) + TOKEN_LIFETIME_SECONDS}
    header = keys.vapid.sign(claims)
    with _headers_lock:
        _headers[cache_key] = (now + HEADER_REUSE_SECONDS, header)
    return header


@receiver(setting_changed)
def _forget_keys(*, setting, **kwargs):
    if setting.startswith("WEBPUSH_"):
        _keys.cache_clear()
        with _headers_lock:
            _headers.clear()
