"""Asymmetric Better Auth tokens verified against a JWKS document served over real HTTP."""

import threading
import time

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.helpers import SigningKey, assert_refused_token, hs256_by_hand, me, random_kid
from core.tests.support import assert_problem, better_auth_claims, sign_hs256

pytestmark = pytest.mark.django_db


def test_each_algorithm_is_accepted(api_client, jwks_only, signing_key):
    jwks_only.publish(signing_key)
    token = signing_key.sign(better_auth_claims("jwksUser", email="jwks@example.com"))
    response = me(api_client, f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "jwks@example.com"


def test_keys_are_cached_not_fetched_per_request(api_client, jwks_only, signing_key):
    jwks_only.publish(signing_key)
    for n in range(5):
        token = signing_key.sign(better_auth_claims(f"cached{n}"))
        assert me(api_client, f"Bearer {token}").status_code == 200
    assert jwks_only.requests == 1


def test_token_without_kid_is_accepted_when_the_document_has_one_key(api_client, jwks_only, ed25519_key):
    jwks_only.publish(ed25519_key)
    assert (
        me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('noKid'), kid=None)}").status_code == 200
    )


def test_token_without_kid_is_refused_when_the_document_has_several_keys(api_client, jwks_only, ed25519_key):
    jwks_only.publish(ed25519_key, SigningKey.generate("EdDSA"))
    assert_refused_token(me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('noKid'), kid=None)}"))


def test_jwks_and_the_shared_secret_work_side_by_side(api_client, settings, jwks_server, ed25519_key):
    settings.BETTER_AUTH_JWKS_URL = jwks_server.url
    jwks_server.publish(ed25519_key)
    assert me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('asym'))}").status_code == 200
    assert me(api_client, f"Bearer {sign_hs256(better_auth_claims('sym'))}").status_code == 200


def test_expired_jwks_token_is_token_expired(api_client, jwks_only, ed25519_key):
    jwks_only.publish(ed25519_key)
    now = int(time.time())
    token = ed25519_key.sign(better_auth_claims("old", iat=now - 2000, exp=now - 1000))
    assert_refused_token(me(api_client, f"Bearer {token}"), code="token_expired")


def test_jwks_token_with_wrong_audience_is_refused(api_client, jwks_only, ed25519_key, settings):
    settings.BETTER_AUTH_AUDIENCE = ["https://app.example.com"]
    jwks_only.publish(ed25519_key)
    assert_refused_token(me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('aud'))}"))


# --- Rotation and unknown kids ----------------------------------------------------------------
def test_unknown_kid_refetches_and_accepts_a_rotated_key(api_client, jwks_only, settings, ed25519_key):
    settings.BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS = 0.2
    jwks_only.publish(ed25519_key)
    assert me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('before'))}").status_code == 200

    rotated = SigningKey.generate("EdDSA")
    jwks_only.publish(rotated, ed25519_key)  # Better Auth keeps the old key listed for a while
    time.sleep(0.3)
    assert me(api_client, f"Bearer {rotated.sign(better_auth_claims('after'))}").status_code == 200
    assert me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('before'))}").status_code == 200
    assert jwks_only.requests == 2


def test_key_dropped_from_the_document_is_refused_after_a_refetch(
    api_client, jwks_only, settings, ed25519_key
):
    settings.BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS = 0
    settings.BETTER_AUTH_JWKS_CACHE_SECONDS = 0
    jwks_only.publish(ed25519_key)
    assert me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('retired'))}").status_code == 200
    jwks_only.publish(SigningKey.generate("EdDSA"))
    assert_refused_token(me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('retired'))}"))


def test_unknown_kid_is_refused_without_refetching_within_the_interval(
    api_client, jwks_only, settings, ed25519_key
):
    settings.BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS = 60
    jwks_only.publish(ed25519_key)
    assert me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('u1'))}").status_code == 200
    rotated = SigningKey.generate("EdDSA")
    jwks_only.publish(rotated, ed25519_key)
    assert_refused_token(me(api_client, f"Bearer {rotated.sign(better_auth_claims('u2'))}"))
    assert jwks_only.requests == 1


def test_flood_of_bogus_kids_causes_at_most_two_fetches(api_client, jwks_only, settings, ed25519_key):
    settings.BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS = 30
    jwks_only.publish(ed25519_key)
    for n in range(50):
        token = ed25519_key.sign(better_auth_claims(f"flood{n}"), kid=random_kid())
        assert_refused_token(me(api_client, f"Bearer {token}"))
    assert 1 <= jwks_only.requests <= 2
    # The flood did not evict the real key.
    assert me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('real'))}").status_code == 200
    assert jwks_only.requests <= 2
    assert not User.objects.filter(pk__startswith="flood").exists()


def test_cached_keys_keep_working_while_the_jwks_server_is_down(api_client, jwks_only, settings, ed25519_key):
    settings.BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS = 0
    settings.BETTER_AUTH_JWKS_CACHE_SECONDS = 0  # every request finds the cache stale and refetches
    jwks_only.publish(ed25519_key)
    assert me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('u1'))}").status_code == 200
    jwks_only.status = 500
    assert me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('u1'))}").status_code == 200
    assert jwks_only.requests == 2


def test_jwks_server_down_with_no_cached_key_is_503(api_client, settings, closed_port_url, ed25519_key):
    settings.BETTER_AUTH_SECRET = ""
    settings.BETTER_AUTH_JWKS_URL = closed_port_url
    response = me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('u1'))}")
    body = assert_problem(response, 503, "service_unavailable")
    assert "Traceback" not in response.content.decode()
    assert body["request_id"] == response["X-Request-ID"]
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("status", [404, 500])
def test_jwks_server_error_with_no_cached_key_is_503(api_client, jwks_only, ed25519_key, status):
    jwks_only.status = status
    response = me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('u1'))}")
    assert_problem(response, 503, "service_unavailable")


@pytest.mark.parametrize(
    "document",
    [
        {"keys": "nope"},
        {"keys": 5},
        {"keys": None},
        ["not", "a", "dict"],
        {"keys": [{"kty": "OKP", "crv": "Ed448", "x": "AA"}, 7, {"kty": "RSA", "kid": ["x"]}]},
        {},
        b"not json",
        b"\xff\xfe",
        b"[" * 200_000,
    ],
    ids=[
        "keys-str",
        "keys-int",
        "keys-null",
        "not-an-object",
        "unusable-keys",
        "empty",
        "not-json",
        "not-utf8",
        "deep",
    ],
)
def test_jwks_document_without_usable_keys_is_503(api_client, jwks_only, ed25519_key, document):
    if isinstance(document, bytes):
        jwks_only.raw = document
    else:
        jwks_only.document = document
    assert_problem(
        me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('u1'))}"), 503, "service_unavailable"
    )


def test_unusable_entries_are_skipped_and_usable_ones_kept(api_client, jwks_only, ed25519_key):
    jwks_only.document = {"keys": ["junk", {"kty": "nope"}, {**ed25519_key.public_jwk(), "use": "enc"}]}
    jwks_only.document["keys"].append(ed25519_key.public_jwk())
    assert me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('u1'))}").status_code == 200


# --- Forgeries ----------------------------------------------------------------------------------
def test_hs256_signed_with_the_public_key_is_refused(api_client, jwks_only, signing_key):
    # The classic RS/HS confusion: the public key is public, so anyone can compute this HMAC.
    jwks_only.publish(signing_key)
    claims = better_auth_claims("confused")
    for key_bytes in (signing_key.public_pem(), signing_key.public_pem().strip()):
        token = hs256_by_hand({"alg": "HS256", "typ": "JWT", "kid": signing_key.kid}, claims, key_bytes)
        assert_refused_token(me(api_client, f"Bearer {token}"))
    assert not User.objects.filter(pk="confused").exists()


def test_hs256_is_refused_in_jwks_only_mode(api_client, jwks_only, ed25519_key):
    jwks_only.publish(ed25519_key)
    token = sign_hs256(better_auth_claims("hsUser"), secret="whatever-secret-the-attacker-picked-0123456789")
    assert_refused_token(me(api_client, f"Bearer {token}"))
    # Not even with an empty key, which is what an empty BETTER_AUTH_SECRET would be.
    token = hs256_by_hand({"alg": "HS256", "typ": "JWT"}, better_auth_claims("hsUser"), b"")
    assert_refused_token(me(api_client, f"Bearer {token}"))


def test_header_alg_that_differs_from_the_jwks_key_alg_is_refused(api_client, jwks_only, ed25519_key):
    jwks_only.publish(ed25519_key)
    attacker = SigningKey.generate("ES256")
    # The header says ES256 and names the EdDSA key's kid.
    token = attacker.sign(better_auth_claims("mismatch"), kid=ed25519_key.kid)
    assert_refused_token(me(api_client, f"Bearer {token}"))


def test_token_signed_by_a_key_not_in_the_document_is_refused(api_client, jwks_only, signing_key):
    jwks_only.publish(signing_key)
    impostor = SigningKey(
        signing_key.alg, SigningKey.generate(signing_key.alg).private_key, kid=signing_key.kid
    )
    assert_refused_token(me(api_client, f"Bearer {impostor.sign(better_auth_claims('impostor'))}"))


def test_kid_that_is_not_a_string_is_refused(api_client, jwks_only, ed25519_key):
    jwks_only.publish(ed25519_key)
    claims = better_auth_claims("weirdKid")
    for kid in (["a"], {"k": 1}, 7):
        token = hs256_by_hand({"alg": "EdDSA", "kid": kid}, claims, b"x")
        assert_refused_token(me(api_client, f"Bearer {token}"))


def test_known_key_does_not_wait_for_a_slow_refetch(api_client, jwks_only, settings, ed25519_key):
    # A bogus kid makes one thread refetch from a slow JWKS endpoint; requests whose key is
    # already cached must not queue behind that fetch.
    settings.BETTER_AUTH_JWKS_MIN_REFRESH_SECONDS = 0
    jwks_only.publish(ed25519_key)
    assert me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('u1'))}").status_code == 200
    jwks_only.delay = 3
    bogus = ed25519_key.sign(better_auth_claims("u1"), kid=random_kid())
    slow = threading.Thread(target=lambda: me(APIClient(), f"Bearer {bogus}"))
    slow.start()
    deadline = time.monotonic() + 10
    while jwks_only.requests < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert jwks_only.requests == 2  # the slow fetch is under way
    started = time.monotonic()
    response = me(api_client, f"Bearer {ed25519_key.sign(better_auth_claims('u1'))}")
    elapsed = time.monotonic() - started
    slow.join()
    assert response.status_code == 200
    assert elapsed < 1.5
