"""Webhook signing secrets: made, kept encrypted at rest, and used to sign (Standard Webhooks).

The key encrypting them is `WEBHOOK_SECRET_KEY` when set, else derived from `DJANGO_SECRET_KEY`;
rotating that key makes existing secrets unreadable (recreate the webhooks).
"""

import base64
import hashlib
import secrets
from datetime import datetime
from functools import lru_cache

from cryptography.fernet import Fernet
from django.conf import settings
from standardwebhooks import Webhook as StandardWebhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (docs/API.md §9)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@lru_cache(maxsize=4)
def _fernet(key_material: str) -> Fernet:
    digest = hashlib.sha256(b"todo-webhook-secrets\x00" + key_material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _key_material() -> str:
    return getattr(settings, "WEBHOOK_SECRET_KEY", "") or settings.SECRET_KEY


def encrypt_secret(secret: str) -> str:
    return _fernet(_key_material()).encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet(_key_material()).decrypt(token.encode()).decode()


def sign(secret: str, message_id: str, timestamp: datetime, body: bytes) -> str:
    """The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""
    return StandardWebhook(secret).sign(message_id, timestamp, body)
