"""The token abuse catalogue: hostile Bearer tokens, each refused with a 401 and never a 500.

test_authentication.py and test_jwks.py cover the ordinary branches; this is the attacker's list,
kept as data. Every forgery claims the identity of an existing user ("victim", who has a task) and
must neither reach the victim's data nor create a user nor make us fetch anything. Controls built
the same way but honestly are accepted, so each refusal comes from the abuse, not from the builder.
"""

import base64
import datetime
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from accounts.models import User
from accounts.tests.conftest import JWKSServer
from accounts.tests.helpers import SigningKey, b64url, hs256_by_hand, segment, unsigned
from core.tests.support import better_auth_claims
from tasks.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

VICTIM = "victim"
# Generous: the slowest honest branch is one JWKS fetch on 127.0.0.1; a hang would be far above it.
MAX_SECONDS = 10.0


# --- Building tokens by hand ----------------------------------------------------------------------
def hs256_raw(header_json: str, claims_text: str, key: bytes) -> str:
    """An HS256 token over JSON text exactly as written, so duplicate members survive."""
    signing_input = f"{b64url(header_json.encode())}.{b64url(claims_text.encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def hmac_token(alg: str, header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """An HS256/384/512 token computed by hand: PyJWT refuses to HMAC with a PEM key, a forger does not."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{segment({'alg': alg, **header})}.{segment(claims)}"
    return f"{signing_input}.{b64url(hmac.new(key, signing_input.encode(), digest).digest())}"


def victim_claims_json(extra: str = "", **overrides: Any) -> str:
    """The victim's claims as compact JSON text with `extra` members appended verbatim."""
    text = json.dumps(better_auth_claims(VICTIM, **overrides), separators=(",", ":"))
    return text[:-1] + extra + "}"


def self_signed_certificate(key: SigningKey) -> str:
    """A base64 DER certificate for the forger's key, as an `x5c` header would carry it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "forger")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.private_key, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def public_key_forms(key: SigningKey) -> dict[str, bytes]:
    """Every form in which a public key's bytes could end up used as an HMAC secret."""
    public = key.private_key.public_key()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    forms = {
        "pem": key.public_pem(),
        "pem-stripped": key.public_pem().strip(),
        "der": public.public_bytes(serialization.Encoding.DER, spki),
        "jwk-json": json.dumps(key.public_jwk()).encode(),
        "jwk-json-compact": json.dumps(key.public_jwk(), separators=(",", ":")).encode(),
    }
    if key.alg == "EdDSA":
        forms["raw"] = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        forms["openssh"] = public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
    return forms


_KEYS: dict[str, SigningKey] = {}


def session_key(name: str, alg: str) -> SigningKey:
    """One key per role for the whole session: RSA keys are slow to generate."""
    if name not in _KEYS:
        _KEYS[name] = SigningKey.generate(alg)
    return _KEYS[name]


@dataclass
class Forge:
    """What a forger works with. `secret` is ours, used only where a case needs a valid HMAC over a
    hostile header or claims; `keys` holds our published keys and the forger's own."""

    secret: bytes
    keys: dict[str, SigningKey]
    forger_server: JWKSServer

    @property
    def forger_ed25519(self) -> SigningKey:
        return self.keys["forger_ed25519"]

    @property
    def forger_rsa(self) -> SigningKey:
        return self.keys["forger_rsa"]

    def published(self, kind: str) -> SigningKey:
        return self.keys[kind]

    def hs(self, claims: dict | None = None, key: bytes | None = None, **header: Any) -> str:
        """HS256 over the victim's claims (or `claims`); `key` defaults to our secret."""
        claims = better_auth_claims(VICTIM) if claims is None else claims
        return hs256_by_hand(
            {"alg": "HS256", "typ": "JWT", **header}, claims, self.secret if key is None else key
        )

    def hs_raw(self, header_json: str = '{"alg":"HS256","typ":"JWT"}', extra: str = "", **overrides) -> str:
        """HS256 with our secret over hand-written JSON: the victim's claims plus `extra` members."""
        return hs256_raw(header_json, victim_claims_json(extra, **overrides), self.secret)

    def signed_by(self, key: SigningKey, claims: dict | None = None, **header: Any) -> str:
        claims = better_auth_claims(VICTIM) if claims is None else claims
        return jwt.encode(claims, key.private_key, algorithm=key.alg, headers=header or None)


@dataclass(frozen=True)
class Abuse:
    """One catalogue entry: the Authorization header it sends, and the 401 code it must get."""

    name: str
    authorization: Callable[[Forge], str]
    code: str = "invalid_token"


def bearer(name: str, token: Callable[[Forge], str], code: str = "invalid_token") -> Abuse:
    return Abuse(name, lambda forge: f"Bearer {token(forge)}", code)


def now() -> int:
    # Read when a token is built, not when the module is imported: a CI session outlives a token.
    return int(time.time())


def claim(name: str, **overrides: Any) -> Abuse:
    """A token signed with our secret whose claims are the victim's with `overrides`; a callable
    override is called when the token is built."""

    def token(forge: Forge) -> str:
        values = {key: value() if callable(value) else value for key, value in overrides.items()}
        return forge.hs(better_auth_claims(VICTIM, **values))

    return bearer(name, token)


# --- The catalogue for the shared-secret deployment --------------------------------------------------
ALG_TRICKS = [
    # alg none spelled four ways is in test_authentication.py; these are its disguises.
    bearer(
        "alg-none-keeping-a-valid-signature",
        lambda f: unsigned(better_auth_claims(VICTIM)) + f.hs().split(".")[2],
    ),
    bearer("alg-missing", lambda f: hs256_by_hand({"typ": "JWT"}, better_auth_claims(VICTIM), f.secret)),
    bearer("alg-empty", lambda f: f.hs(alg="")),
    bearer("alg-null", lambda f: f.hs(alg=None)),
    bearer("alg-lowercase", lambda f: f.hs(alg="hs256")),
    bearer("alg-with-trailing-space", lambda f: f.hs(alg="HS256 ")),
    bearer("alg-as-list", lambda f: f.hs(alg=["HS256"])),
    bearer("empty-signature", lambda f: f.hs().rsplit(".", 1)[0] + "."),
    bearer(
        "claims-swapped-under-a-valid-signature",
        lambda f: ".".join(
            [f.hs().split(".")[0], segment(better_auth_claims("mallory")), f.hs().split(".")[2]]
        ),
    ),
    bearer("asymmetric-token-without-jwks", lambda f: f.signed_by(f.forger_ed25519)),
]

# kid values that would pick a key the forger knows if a server used the kid to look a key up.
KID_INJECTIONS = [
    ("path-traversal-to-dev-null", "../../../../../../dev/null", b""),
    ("absolute-dev-null", "/dev/null", b""),
    ("proc-environ", "/proc/self/environ", b""),
    ("sql-or-true", "' OR '1'='1", b"1"),
    ("sql-union-select", "x' UNION SELECT 'forged' --", b"forged"),
    ("url", "http://127.0.0.1:9/forger.jwks", b""),
    ("file-url", "file:///etc/hostname", b"localhost"),
    ("shell-substitution", "$(cat /etc/hostname)", b""),
    ("jndi-lookup", "${jndi:ldap://127.0.0.1/a}", b""),
    ("nul-byte", "key\x00", b""),
    ("four-thousand-characters", "k" * 4000, b""),
    ("not-a-string", {"$ne": None}, b""),
]
KID_TRICKS = [
    bearer(f"kid-{name}", lambda f, kid=kid, key=key: f.hs(key=key, kid=kid))
    for name, kid, key in KID_INJECTIONS
]

EMBEDDED_KEY_TRICKS = [
    bearer(
        "jwk-header-with-the-forgers-key",
        lambda f: f.signed_by(f.forger_ed25519, jwk=f.forger_ed25519.public_jwk()),
    ),
    bearer(
        "jwk-header-with-an-hmac-key",
        lambda f: f.hs(key=b"forged", jwk={"kty": "oct", "k": b64url(b"forged")}),
    ),
    bearer(
        "jku-header-to-the-forgers-jwks",
        lambda f: f.signed_by(f.forger_ed25519, jku=f.forger_server.url, kid=f.forger_ed25519.kid),
    ),
    bearer(
        "x5u-header-to-the-forgers-certificate", lambda f: f.signed_by(f.forger_rsa, x5u=f.forger_server.url)
    ),
    bearer(
        "x5c-header-with-a-self-signed-certificate",
        lambda f: f.signed_by(f.forger_rsa, x5c=[self_signed_certificate(f.forger_rsa)]),
    ),
]

OVERSIZED = [
    bearer("one-mebibyte-of-token", lambda f: "a" * (1024 * 1024)),
    bearer("validly-signed-just-over-8-kib", lambda f: f.hs(better_auth_claims(VICTIM, pad="p" * 6100))),
    bearer("seven-hundred-segments", lambda f: ".".join(["eyJhIjoxfQ"] * 700)),
    bearer(
        "header-nested-three-thousand-deep",
        lambda f: ".".join(
            [
                b64url(b'{"alg":"HS256","x":' + b"[" * 3000 + b"]" * 3000 + b"}"),
                segment(better_auth_claims(VICTIM)),
                "c2ln",
            ]
        ),
    ),
    bearer(
        "claims-nested-two-thousand-deep-and-signed",
        lambda f: f.hs_raw(extra=',"x":' + "[" * 2000 + "]" * 2000),
    ),
]

WRONG_TYPES = [
    *(
        claim(f"sub-as-{label}", sub=value)
        for label, value in [("list", [VICTIM]), ("object", {"id": VICTIM}), ("true", True)]
    ),
    *(
        claim(f"{name}-as-{label}", **{name: value})
        for name in ("iat", "nbf")
        for label, value in [
            ("word", "yesterday"),
            ("list", lambda: [now()]),
            ("object", lambda: {"t": now()}),
        ]
    ),
    claim("exp-as-true", exp=True),
    claim("exp-as-object", exp=lambda: {"t": now() + 900}),
    claim("token-type-as-list", token_type=["access"]),
    claim("token-type-refresh-in-capitals", token_type="REFRESH"),
]

# Members named twice, hand-written: parsers disagree on which one wins, so neither can be trusted.
DUPLICATES = [
    bearer("duplicate-sub", lambda f: f.hs_raw(extra=',"sub":"mallory"')),
    bearer(
        "duplicate-exp-past-then-future", lambda f: f.hs_raw(exp=now() - 3600, extra=f',"exp":{now() + 3600}')
    ),
    bearer("duplicate-token-type", lambda f: f.hs_raw(token_type="refresh", extra=',"token_type":"access"')),
    bearer("duplicate-alg-in-the-header", lambda f: f.hs_raw('{"alg":"none","alg":"HS256"}')),
    bearer("duplicate-kid-in-the-header", lambda f: f.hs_raw('{"alg":"HS256","kid":"a","kid":"b"}')),
]

# NumericDates (RFC 7519 §2) are JSON numbers of seconds since 1970: not strings, not out of range.
NUMERIC_DATES = [
    claim("exp-as-digit-string", exp=lambda: str(now() + 900)),
    claim("exp-as-padded-digit-string", exp=lambda: f" {now() + 900} "),
    claim("iat-as-digit-string", iat=lambda: str(now())),
    claim("nbf-as-digit-string", nbf=lambda: str(now() - 60)),
    *(
        bearer(f"huge-exp-{label}", lambda f, text=text: f.hs_raw(exp=..., extra=f',"exp":{text}'))
        for label, text in [
            ("1e20", "100000000000000000000"),
            ("2-to-the-64", str(2**64)),
            ("400-digits", "1" + "0" * 400),
            ("1e308", "1e308"),
            ("after-year-9999", "253402300800"),
        ]
    ),
    claim("negative-iat", iat=-1),
    claim("iat-before-1970-by-30000-years", iat=-(10**12)),
    claim("negative-nbf", nbf=-1),
    # Longer than JWT_MAX_LIFETIME_SECONDS (a day): exp - iat, or exp - now without iat.
    claim("iat-zero-a-lifetime-of-decades", iat=0),
    claim("exp-a-year-ahead", exp=lambda: now() + 365 * 86400),
    claim("exp-a-year-ahead-without-iat", iat=..., exp=lambda: now() + 365 * 86400),
]

# Unicode that looks like, or normalizes to, the victim's id.
UNICODE_SUBS = [
    claim(f"sub-{label}", sub=sub, id=sub)
    for label, sub in [
        ("fullwidth", "\uff56\uff49\uff43\uff54\uff49\uff4d"),
        ("cyrillic-homoglyphs", "v\u0456\u0441t\u0456m"),
        ("zero-width-space", "vic\u200btim"),
        ("combining-accent", "victi\u0301m"),
        ("right-to-left-override", "\u202emitciv"),
        ("dotless-i", "v\u0131ct\u0131m"),
        ("trailing-no-break-space", "victim\u00a0"),
        ("emoji", "victim\U0001f600"),
        ("lone-surrogate", "victim\ud800"),
        ("trailing-newline", "victim\n"),
    ]
]

LONG_SUBS = [
    claim(f"sub-of-{length}-characters", sub=VICTIM + "v" * (length - len(VICTIM)), id="x")
    for length in (129, 256, 1000, 5000)
]

# RFC 6750 §2.1: `Bearer 1*SP b64token`. HTTP servers strip spaces and tabs at both ends of a header
# value (RFC 9110 §5.5) before we see it; anything else around or inside the token is refused.
WHITESPACE = [
    Abuse(f"whitespace-{label}", lambda f, template=template: template.format(token=f.hs()), code)
    for label, template, code in [
        ("tab-after-scheme", "Bearer\t{token}", "invalid_token"),
        ("vertical-tab-after-scheme", "Bearer\x0b{token}", "invalid_token"),
        ("form-feed-after-scheme", "Bearer\x0c{token}", "invalid_token"),
        ("newline-after-scheme", "Bearer\n{token}", "invalid_token"),
        ("no-break-space-after-scheme", "Bearer\xa0{token}", "not_authenticated"),
        ("vertical-tab-after-token", "Bearer {token}\x0b", "invalid_token"),
        ("form-feed-before-scheme", "\x0cBearer {token}", "invalid_token"),
        ("newline-before-scheme", "\nBearer {token}", "invalid_token"),
        ("space-inside-token", "Bearer {token} x", "invalid_token"),
        ("newline-inside-token", "Bearer {token}\nx", "invalid_token"),
        ("scheme-twice", "Bearer Bearer {token}", "invalid_token"),
        ("two-credentials-comma-separated", "Bearer {token}, Bearer {token}", "invalid_token"),
    ]
]

SHARED_SECRET_CATALOGUE = [
    *ALG_TRICKS,
    *KID_TRICKS,
    *EMBEDDED_KEY_TRICKS,
    *OVERSIZED,
    *WRONG_TYPES,
    *DUPLICATES,
    *NUMERIC_DATES,
    *UNICODE_SUBS,
    *LONG_SUBS,
    *WHITESPACE,
]

# Built like the abuses above, honestly: these must be accepted as the victim.
SHARED_SECRET_CONTROLS = [
    bearer("hand-built-hs256", lambda f: f.hs()),
    bearer("hand-written-json-without-duplicates", lambda f: f.hs_raw()),
    bearer("kid-is-irrelevant-to-hs256", lambda f: f.hs(kid="../../../../../../dev/null")),
    bearer("exp-as-a-float", lambda f: f.hs_raw(exp=..., extra=f',"exp":{now() + 900}.5')),
    bearer("iat-an-hour-ago", lambda f: f.hs(better_auth_claims(VICTIM, iat=now() - 3600))),
    Abuse("two-spaces-after-scheme", lambda f: f"Bearer  {f.hs()}"),
    Abuse("spaces-and-tabs-at-the-ends", lambda f: f" \tBearer {f.hs()}\t "),
]


# --- The catalogue when Better Auth's JWKS is configured beside the shared secret ------------------
# Algorithm confusion: an HMAC keyed with the bytes of one of our published public keys, in every
# form a server might hold them, under every HMAC algorithm, naming that key's kid.
CONFUSIONS = [
    bearer(
        f"{alg}-keyed-with-the-published-{kind}-key-as-{form}",
        lambda f, alg=alg, kind=kind, form=form: hmac_token(
            alg,
            {"kid": f.published(kind).kid},
            better_auth_claims(VICTIM),
            public_key_forms(f.published(kind))[form],
        ),
    )
    for alg in ("HS256", "HS384", "HS512")
    for kind, forms in [
        ("ed25519", ["pem", "pem-stripped", "der", "jwk-json", "jwk-json-compact", "raw"]),
        ("rsa", ["pem", "pem-stripped", "der", "jwk-json", "jwk-json-compact", "openssh"]),
    ]
    for form in forms
]

JWKS_CATALOGUE = [
    *CONFUSIONS,
    bearer(
        "hmac-signature-under-the-published-keys-own-alg",
        lambda f: hmac_token(
            "HS256", {"kid": f.published("ed25519").kid}, better_auth_claims(VICTIM), b"x"
        ).replace(
            segment({"alg": "HS256", "kid": f.published("ed25519").kid}),
            segment({"alg": "EdDSA", "kid": f.published("ed25519").kid}),
            1,
        ),
    ),
    # kid injection where the kid does select a key: it is only ever looked up in the fetched document.
    *(
        bearer(f"kid-{name}-signed-by-the-forger", lambda f, kid=kid: f.signed_by(f.forger_ed25519, kid=kid))
        for name, kid, _ in KID_INJECTIONS
        if isinstance(kid, str) and "\x00" not in kid
    ),
    bearer(
        "published-kid-with-the-forgers-jwk-embedded",
        lambda f: f.signed_by(
            f.forger_ed25519, kid=f.published("ed25519").kid, jwk=f.forger_ed25519.public_jwk()
        ),
    ),
    bearer(
        "jku-to-the-forgers-jwks",
        lambda f: f.signed_by(f.forger_ed25519, kid=f.forger_ed25519.kid, jku=f.forger_server.url),
    ),
    bearer(
        "x5u-to-the-forgers-jwks",
        lambda f: f.signed_by(f.forger_rsa, kid=f.forger_rsa.kid, x5u=f.forger_server.url),
    ),
    bearer(
        "x5c-with-the-forgers-certificate-and-a-published-kid",
        lambda f: f.signed_by(
            f.forger_rsa, kid=f.published("rsa").kid, x5c=[self_signed_certificate(f.forger_rsa)]
        ),
    ),
    bearer(
        "rsa-token-naming-the-ed25519-kid",
        lambda f: f.signed_by(f.forger_rsa, kid=f.published("ed25519").kid),
    ),
]

JWKS_CONTROLS = [
    bearer(
        "signed-by-the-published-ed25519-key",
        lambda f: f.signed_by(f.published("ed25519"), kid=f.published("ed25519").kid),
    ),
    bearer(
        "signed-by-the-published-rsa-key",
        lambda f: f.signed_by(f.published("rsa"), kid=f.published("rsa").kid),
    ),
    bearer(
        "hs256-with-the-shared-secret-and-a-published-kid", lambda f: f.hs(kid=f.published("ed25519").kid)
    ),
]


# --- Fixtures and the checks ------------------------------------------------------------------------
@pytest.fixture
def victim_task():
    return TaskFactory(user__id=VICTIM, title="The victim's secret plans")


def _serve(*keys: SigningKey) -> JWKSServer:
    server = JWKSServer()
    server.publish(*keys)
    server.thread.start()
    return server


@pytest.fixture(scope="module")
def servers():
    """The forger's key server and ours, one each for the module (stopping one takes half a second)."""
    forger = _serve(session_key("forger_ed25519", "EdDSA"), session_key("forger_rsa", "RS256"))
    ours = _serve(session_key("published_ed25519", "EdDSA"), session_key("published_rsa", "RS256"))
    yield forger, ours
    for server in (forger, ours):
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture
def forge(settings, servers) -> Forge:
    forger, ours = servers
    forger.requests = ours.requests = 0
    return Forge(
        secret=settings.BETTER_AUTH_SECRET.encode(),
        keys={
            "ed25519": session_key("published_ed25519", "EdDSA"),
            "rsa": session_key("published_rsa", "RS256"),
            "forger_ed25519": session_key("forger_ed25519", "EdDSA"),
            "forger_rsa": session_key("forger_rsa", "RS256"),
        },
        forger_server=forger,
    )


@pytest.fixture
def our_jwks(settings, servers, forge):
    """Better Auth's JWKS configured beside the shared secret: the mode where confusion is possible."""
    settings.BETTER_AUTH_JWKS_URL = servers[1].url
    return servers[1]


def assert_refused(client, authorization: str, code: str, forge: Forge) -> None:
    users_before = set(User.objects.values_list("pk", flat=True))
    for url in ("/api/me/", f"/api/{VICTIM}/tasks/"):
        started = time.monotonic()
        response = client.get(url, HTTP_AUTHORIZATION=authorization)
        elapsed = time.monotonic() - started

        assert response.status_code == 401, (url, response.status_code, response.content[:300])
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == code, response.json()
        assert b"secret plans" not in response.content
        if code == "invalid_token":
            assert 'error="invalid_token"' in response["WWW-Authenticate"]
        assert elapsed < MAX_SECONDS, f"{url} took {elapsed:.2f} s"
    assert set(User.objects.values_list("pk", flat=True)) == users_before
    assert forge.forger_server.requests == 0, "the server fetched a key from where the token pointed"


def assert_accepted(client, authorization: str) -> None:
    response = client.get(f"/api/{VICTIM}/tasks/", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 200, response.content[:300]
    assert [task["title"] for task in response.json()] == ["The victim's secret plans"]


def _name(abuse: Abuse) -> str:
    return abuse.name


# --- Tests -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("abuse", SHARED_SECRET_CATALOGUE, ids=_name)
def test_hostile_token_is_refused(api_client, forge, victim_task, abuse):
    assert_refused(api_client, abuse.authorization(forge), abuse.code, forge)


@pytest.mark.parametrize("control", SHARED_SECRET_CONTROLS, ids=_name)
def test_honest_token_built_the_same_way_is_accepted(api_client, forge, victim_task, control):
    assert_accepted(api_client, control.authorization(forge))


@pytest.mark.parametrize("abuse", JWKS_CATALOGUE, ids=_name)
def test_hostile_token_is_refused_when_jwks_is_configured(api_client, forge, our_jwks, victim_task, abuse):
    assert_refused(api_client, abuse.authorization(forge), abuse.code, forge)
    # Unknown kids may refetch our own document, but only within the refresh limit.
    assert our_jwks.requests <= 2


@pytest.mark.parametrize("control", JWKS_CONTROLS, ids=_name)
def test_honest_token_is_accepted_when_jwks_is_configured(api_client, forge, our_jwks, victim_task, control):
    assert_accepted(api_client, control.authorization(forge))
