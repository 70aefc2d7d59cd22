"""Every branch of Bearer-token authentication, through GET /api/me/ with real signed tokens."""

import time
import uuid

import jwt
import pytest

from accounts.models import User
from accounts.tests.helpers import assert_refused_token, hs256_by_hand, me, segment, unsigned
from core.tests.support import assert_problem, better_auth_claims, sign_hs256

ME = "/api/me/"


# --- The Authorization header -----------------------------------------------------------------
@pytest.mark.django_db
def test_no_authorization_header_is_401_not_authenticated(api_client):
    response = me(api_client, None)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    # No token was sent, so there is no token to call invalid.
    assert "error=" not in response["WWW-Authenticate"]


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNzd29yZA==", "Token abc", "Digest x=1", ""])
def test_other_scheme_is_401_not_authenticated(api_client, header):
    response = me(api_client, header)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer a b", "Bearer not-a-jwt", "Bearer a.b.c", "Bearer é.é.é", "Bearer ..."],
)
def test_malformed_bearer_header_is_401_invalid_token(api_client, header):
    assert_refused_token(me(api_client, header))


@pytest.mark.django_db
def test_valid_token_is_accepted_with_lowercase_scheme(api_client, make_token):
    response = me(api_client, f"bearer {make_token('lowercaseScheme')}")
    assert response.status_code == 200
    assert response.json()["id"] == "lowercaseScheme"


@pytest.mark.django_db
def test_token_longer_than_8_kib_is_refused(api_client):
    token = sign_hs256(better_auth_claims("bigToken", name="x" * 9000))
    assert_refused_token(me(api_client, f"Bearer {token}"))
    assert not User.objects.filter(pk="bigToken").exists()


# --- The signature and the algorithm -----------------------------------------------------------
@pytest.mark.django_db
def test_token_signed_with_another_secret_is_refused(api_client):
    token = sign_hs256(better_auth_claims("forger"), secret="another-secret-of-the-same-length-0123456789")
    assert_refused_token(me(api_client, f"Bearer {token}"))
    assert not User.objects.filter(pk="forger").exists()


@pytest.mark.django_db
def test_token_with_tampered_claims_is_refused(api_client, make_token):
    header, _, signature = make_token("victim").split(".")
    forged = f"{header}.{segment(better_auth_claims('attacker'))}.{signature}"
    assert_refused_token(me(api_client, f"Bearer {forged}"))


@pytest.mark.django_db
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_unsigned_token_is_refused(api_client, alg):
    assert_refused_token(me(api_client, f"Bearer {unsigned(better_auth_claims('nobody'), alg)}"))
    assert not User.objects.filter(pk="nobody").exists()


@pytest.mark.django_db
def test_unsigned_token_with_a_signature_segment_is_refused(api_client, settings):
    token = hs256_by_hand({"alg": "none"}, better_auth_claims("nobody"), settings.BETTER_AUTH_SECRET.encode())
    assert_refused_token(me(api_client, f"Bearer {token}"))


@pytest.mark.django_db
@pytest.mark.parametrize("alg", ["HS384", "HS512"])
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_hmac_algorithm_with_the_right_secret_is_refused(api_client, settings, alg):
    token = jwt.encode(better_auth_claims("hs512user"), settings.BETTER_AUTH_SECRET.encode(), algorithm=alg)
    assert_refused_token(me(api_client, f"Bearer {token}"))


@pytest.mark.django_db
def test_header_alg_that_is_not_a_string_is_refused(api_client, settings):
    for alg in (["HS256"], {"HS256": 1}, 256, None):
        token = hs256_by_hand({"alg": alg}, better_auth_claims("u1"), settings.BETTER_AUTH_SECRET.encode())
        body = assert_refused_token(me(api_client, f"Bearer {token}"))
        assert "unhashable" not in body["detail"]  # no Python internals in the answer


@pytest.mark.django_db
def test_asymmetric_token_is_refused_when_no_jwks_is_configured(api_client, settings, ed25519_key):
    settings.BETTER_AUTH_JWKS_URL = ""
    token = ed25519_key.sign(better_auth_claims("edUser"))
    assert_refused_token(me(api_client, f"Bearer {token}"))


# --- Time claims -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_expired_token_is_401_token_expired(api_client, make_token):
    now = int(time.time())
    response = me(api_client, f"Bearer {make_token('late', iat=now - 1000, exp=now - 100)}")
    body = assert_refused_token(response, code="token_expired")
    assert "expired" in body["detail"]


@pytest.mark.django_db
def test_token_expired_within_the_leeway_is_accepted(api_client, make_token, settings):
    settings.JWT_LEEWAY_SECONDS = 30
    now = int(time.time())
    response = me(api_client, f"Bearer {make_token('skewed', iat=now - 900, exp=now - 10)}")
    assert response.status_code == 200


@pytest.mark.django_db
def test_leeway_comes_from_the_setting(api_client, make_token, settings):
    settings.JWT_LEEWAY_SECONDS = 0
    now = int(time.time())
    response = me(api_client, f"Bearer {make_token('strict', iat=now - 900, exp=now - 10)}")
    assert_refused_token(response, code="token_expired")


@pytest.mark.django_db
def test_token_not_yet_valid_is_refused(api_client, make_token):
    now = int(time.time())
    assert_refused_token(me(api_client, f"Bearer {make_token('early', nbf=now + 600)}"))


@pytest.mark.django_db
def test_nbf_in_the_past_is_accepted(api_client, make_token):
    now = int(time.time())
    assert me(api_client, f"Bearer {make_token('onTime', nbf=now - 5)}").status_code == 200


@pytest.mark.django_db
def test_token_issued_in_the_future_is_refused(api_client, make_token):
    now = int(time.time())
    assert_refused_token(me(api_client, f"Bearer {make_token('future', iat=now + 600, exp=now + 1500)}"))


@pytest.mark.django_db
@pytest.mark.parametrize("exp", [..., None, "soon", "1e99", [1], float("inf"), float("nan")])
def test_token_without_a_usable_exp_is_refused(api_client, exp):
    assert_refused_token(me(api_client, f"Bearer {sign_hs256(better_auth_claims('noExp', exp=exp))}"))
    assert not User.objects.filter(pk="noExp").exists()


# --- sub ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_token_without_sub_is_refused(api_client):
    # Like Better Auth's session-cookie cache: a JWT of the session, with no sub.
    claims = better_auth_claims("x", sub=...)
    assert_refused_token(me(api_client, f"Bearer {sign_hs256(claims)}"))
    assert User.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sub",
    ["", " ", "a" * 129, "ünïcode", "a/b", "../etc", "a b", "a\nb", "a\x00b", "%41", "a?b", "a#b", 17, None],
    ids=repr,
)
def test_sub_that_is_not_a_user_id_is_refused(api_client, sub):
    token = sign_hs256(better_auth_claims("x", sub=sub, id=sub, email="odd@example.com"))
    assert_refused_token(me(api_client, f"Bearer {token}"))
    assert User.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sub",
    ["0H5BlzmPNq9ylFjdS61khlk0EJ08dOht", str(uuid.uuid4()), "17", "a" * 128, "a.b_c~d-e"],
    ids=["better-auth-default", "uuid", "serial", "128-chars", "punctuation"],
)
def test_user_id_formats_are_accepted(api_client, make_token, sub):
    response = me(api_client, f"Bearer {make_token(sub)}")
    assert response.status_code == 200
    assert response.json()["id"] == sub
    assert User.objects.filter(pk=sub).exists()


@pytest.mark.django_db
def test_ids_are_compared_exactly(api_client, make_token):
    assert me(api_client, f"Bearer {make_token('007', email='bond@example.com')}").json()["id"] == "007"
    assert me(api_client, f"Bearer {make_token('7', email='seven@example.com')}").json()["id"] == "7"
    assert sorted(User.objects.values_list("pk", flat=True)) == ["007", "7"]
    assert User.objects.get(pk="007").email == "bond@example.com"


# --- iss and aud -------------------------------------------------------------------------------
@pytest.fixture
def pinned_issuer(settings):
    settings.BETTER_AUTH_ISSUER = "https://app.example.com"
    settings.BETTER_AUTH_AUDIENCE = ["https://app.example.com"]


@pytest.mark.django_db
@pytest.mark.usefixtures("pinned_issuer")
@pytest.mark.parametrize(
    ("iss", "aud"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("https://app.example.com", ["https://other.example.com", "https://app.example.com"]),
    ],
)
def test_configured_issuer_and_audience_are_accepted(api_client, make_token, iss, aud):
    assert me(api_client, f"Bearer {make_token('pinned', iss=iss, aud=aud)}").status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("pinned_issuer")
@pytest.mark.parametrize(
    ("iss", "aud"),
    [
        ("http://localhost:3000", "https://app.example.com"),
        ("https://app.example.com", "http://localhost:3000"),
        (..., "https://app.example.com"),
        ("https://app.example.com", ...),
        ("https://app.example.com", ["https://other.example.com"]),
        ("https://app.example.com", []),
        (["https://app.example.com"], "https://app.example.com"),
        ("https://app.example.com", [{"nested": 1}]),
    ],
    ids=[
        "wrong-iss",
        "wrong-aud",
        "no-iss",
        "no-aud",
        "aud-list-without-ours",
        "empty-aud",
        "iss-list",
        "aud-junk",
    ],
)
def test_wrong_issuer_or_audience_is_refused(api_client, settings, iss, aud):
    # By hand: PyJWT will not even encode some of these.
    claims = better_auth_claims("pinned", iss=iss, aud=aud)
    token = hs256_by_hand({"alg": "HS256", "typ": "JWT"}, claims, settings.BETTER_AUTH_SECRET.encode())
    assert_refused_token(me(api_client, f"Bearer {token}"))


@pytest.mark.django_db
def test_any_of_several_configured_audiences_is_accepted(api_client, make_token, settings):
    settings.BETTER_AUTH_AUDIENCE = ["https://app.example.com", "https://admin.example.com"]
    response = me(api_client, f"Bearer {make_token('multi', aud='https://admin.example.com')}")
    assert response.status_code == 200


@pytest.mark.django_db
def test_issuer_and_audience_are_not_checked_when_unset(api_client, make_token, settings):
    settings.BETTER_AUTH_ISSUER = ""
    settings.BETTER_AUTH_AUDIENCE = []
    token = make_token("anyIssuer", iss="https://whoever.example", aud=["x", "y"])
    assert me(api_client, f"Bearer {token}").status_code == 200


# --- Token kinds -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_token_built_exactly_like_better_auths_example_is_accepted(api_client, settings):
    # docs/AUTH.md, kind 1, byte for byte except iat/exp moved to now: header first, JSON with
    # no spaces, the secret's raw UTF-8 bytes as the HMAC key.
    now = int(time.time())
    claims = {
        "iat": now,
        "id": "0H5BlzmPNq9ylFjdS61khlk0EJ08dOht",
        "createdAt": "2026-11-29T11:13:48.368Z",
        "updatedAt": "2026-11-29T11:13:48.368Z",
        "email": "alice@example.com",
        "emailVerified": False,
        "name": "Alice Example",
        "sub": "0H5BlzmPNq9ylFjdS61khlk0EJ08dOht",
        "exp": now + 900,
        "iss": "http://localhost:3000",
        "aud": "http://localhost:3000",
    }
    token = hs256_by_hand({"alg": "HS256", "typ": "JWT"}, claims, settings.BETTER_AUTH_SECRET.encode("utf-8"))
    response = me(api_client, f"Bearer {token}")
    assert response.status_code == 200
    assert response.json()["id"] == "0H5BlzmPNq9ylFjdS61khlk0EJ08dOht"
    assert response.json()["email"] == "alice@example.com"
    assert response.json()["name"] == "Alice Example"


@pytest.mark.django_db
def test_better_auths_example_is_accepted_with_its_issuer_and_audience_pinned(
    api_client, make_token, settings
):
    settings.BETTER_AUTH_ISSUER = "http://localhost:3000"
    settings.BETTER_AUTH_AUDIENCE = ["http://localhost:3000"]
    assert me(api_client, f"Bearer {make_token('0H5BlzmPNq9ylFjdS61khlk0EJ08dOht')}").status_code == 200


@pytest.mark.django_db
def test_non_ascii_secret_is_used_as_raw_utf8_bytes(api_client, settings):
    settings.BETTER_AUTH_SECRET = "sécret-partagé-avec-better-auth-ünïcode-0123456789"
    claims = better_auth_claims("utf8Secret")
    token = hs256_by_hand({"alg": "HS256", "typ": "JWT"}, claims, settings.BETTER_AUTH_SECRET.encode("utf-8"))
    assert me(api_client, f"Bearer {token}").status_code == 200


@pytest.mark.django_db
def test_standalone_refresh_token_cannot_call_the_api(api_client):
    registered = api_client.post(
        "/api/auth/register/",
        {"email": "refresh@example.com", "password": "a-long-and-unusual-passphrase"},
        format="json",
    )
    refresh = registered.json()["refresh"]
    assert_refused_token(me(api_client, f"Bearer {refresh}"))


@pytest.mark.django_db
def test_better_auth_bearer_plugin_session_token_is_refused(api_client):
    # `<session token>.<signature>`: not a JWT.
    assert_refused_token(me(api_client, "Bearer Xk2j3YH8cdQ0VJ8e7oT1zWnG5Lm9pRqs.c2lnbmF0dXJlLWJ5dGVz"))


# --- Just-in-time provisioning -------------------------------------------------------------------
@pytest.mark.django_db
def test_first_token_for_an_unknown_sub_creates_the_user(api_client, make_token):
    response = me(api_client, f"Bearer {make_token('newcomer', email='New@Example.COM', name='  Nia New ')}")
    assert response.status_code == 200
    assert response.json()["id"] == "newcomer"
    user = User.objects.get(pk="newcomer")
    assert (user.email, user.name, user.is_active, user.is_staff) == (
        "New@example.com",
        "Nia New",
        True,
        False,
    )
    # A provisioned user signs in through Better Auth only: no password works.
    assert not user.has_usable_password()


@pytest.mark.django_db
def test_later_token_keeps_email_and_name_current(api_client, make_token, user):
    token = make_token(user.pk, email="renamed@example.com", name="Renamed Person")
    response = me(api_client, f"Bearer {token}")
    assert response.json()["email"] == "renamed@example.com"
    user.refresh_from_db()
    assert (user.email, user.name) == ("renamed@example.com", "Renamed Person")


@pytest.mark.django_db
def test_two_users_may_share_an_email(api_client, make_token):
    assert me(api_client, f"Bearer {make_token('twinA', email='same@example.com')}").status_code == 200
    assert me(api_client, f"Bearer {make_token('twinB', email='same@example.com')}").status_code == 200
    assert User.objects.filter(email="same@example.com").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "claims",
    [
        {"email": "nul\x00@example.com"},
        {"email": "bell\x07@example.com"},
        {"email": 42},
        {"email": ["list@example.com"]},
        {"email": {"address": "dict@example.com"}},
        {"email": None},
        {"email": "not-an-email"},
        {"email": "a" * 250 + "@example.com"},
        {"email": "lone\ud800@example.com"},
        {"email": "a@\ud800.example.com"},
        {"name": "nul\x00name"},
        {"name": "esc\x1b[31mred"},
        {"name": "del\x7f"},
        {"name": "c1\x85"},
        {"name": 42},
        {"name": ["Alice"]},
        {"name": None},
        {"name": "lone \ud800 surrogate"},
        {"name": "\udfff"},
    ],
    ids=repr,
)
def test_unusable_email_or_name_claims_are_ignored(api_client, make_token, user, claims):
    before = (user.email, user.name)
    token = make_token(user.pk, **{"email": user.email, "name": user.name, **claims})
    response = me(api_client, f"Bearer {token}")
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.email, user.name) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "claims",
    [{"email": "nul\x00@example.com", "name": "nul\x00"}, {"email": 1, "name": 2}, {"name": "\ud800"}],
    ids=repr,
)
def test_unknown_user_with_unusable_claims_is_still_provisioned(api_client, make_token, claims):
    response = me(api_client, f"Bearer {make_token('oddClaims', **claims)}")
    assert response.status_code == 200
    user = User.objects.get(pk="oddClaims")
    assert "\x00" not in user.email + user.name


@pytest.mark.django_db
def test_very_long_name_is_cut_to_the_column(api_client, make_token):
    assert me(api_client, f"Bearer {make_token('longName', name='n' * 1000)}").status_code == 200
    assert User.objects.get(pk="longName").name == "n" * 255


@pytest.mark.django_db
def test_unicode_name_round_trips(api_client, make_token):
    name = "Zoë 🧑‍💻 عائشة"
    assert me(api_client, f"Bearer {make_token('uniName', name=name)}").json()["name"] == name


@pytest.mark.django_db
def test_deactivated_user_is_403_account_disabled(api_client, make_token, user):
    user.is_active = False
    user.save()
    response = me(api_client, f"Bearer {make_token(user.pk, email=user.email, name=user.name)}")
    assert_problem(response, 403, "account_disabled")


# --- Cost ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_known_unchanged_user_costs_at_most_one_query(auth_client, user, django_assert_max_num_queries):
    assert auth_client.get(ME).status_code == 200  # the first request may warm things up
    with django_assert_max_num_queries(1):
        response = auth_client.get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }
