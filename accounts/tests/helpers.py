"""Helpers of the token tests: the refused-token assertion, hand-built JWTs for the forgeries PyJWT
refuses to produce (alg none, HMAC over a PEM key), and keys and JWKS entries of Better Auth's
shapes. The shared ones (tokens, clients, assert_problem) are in core/tests/support.py."""

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from core.tests.support import assert_problem


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: dict[str, Any]) -> str:
    """A JWT segment serialised the way JavaScript's JSON.stringify does (no spaces)."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def hs256_by_hand(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    return f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims)}."


def random_kid() -> str:
    return secrets.token_urlsafe(24)[:32]


class SigningKey:
    """A private key, its algorithm and kid, and the public JWK Better Auth would publish for it."""

    def __init__(self, alg: str, private_key: Any, kid: str | None = None) -> None:
        self.alg = alg
        self.private_key = private_key
        self.kid = kid or random_kid()

    @classmethod
    def generate(cls, alg: str) -> "SigningKey":
        if alg == "EdDSA":
            return cls(alg, ed25519.Ed25519PrivateKey.generate())
        if alg == "ES256":
            return cls(alg, ec.generate_private_key(ec.SECP256R1()))
        if alg == "RS256":
            return cls(alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        raise ValueError(alg)

    def public_jwk(self) -> dict[str, Any]:
        to_jwk = {"EdDSA": OKPAlgorithm, "ES256": ECAlgorithm, "RS256": RSAAlgorithm}[self.alg].to_jwk
        jwk = to_jwk(self.private_key.public_key(), as_dict=True)
        # Better Auth lists alg and kid, and no `use`.
        return {**jwk, "alg": self.alg, "kid": self.kid}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], *, kid: Any = ...) -> str:
        """A token with Better Auth's header: alg and kid, no typ. `kid=None` leaves the kid out."""
        headers: dict[str, Any] = {"kid": self.kid if kid is ... else kid, "typ": None}
        if headers["kid"] is None:
            del headers["kid"]
        return jwt.encode(claims, self.private_key, algorithm=self.alg, headers=headers)


# --- HTTP -----------------------------------------------------------------------------------------
def me(client, authorization: str | None):
    """GET /api/me/ with this Authorization header (None: no header at all)."""
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    return client.get("/api/me/", **extra)


def assert_refused_token(response, code: str = "invalid_token") -> dict:
    """401 for a token that was sent: WWW-Authenticate says Bearer with error="invalid_token"."""
    body = assert_problem(response, 401, code)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    return body
