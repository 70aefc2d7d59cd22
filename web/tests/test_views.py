"""The pages' server side through Django's test client: sign-in, registration, sign-out, the
session-token endpoint, CSRF, rate limits, and the frontend notice when standalone mode is off."""

import re
import time

import jwt
import pytest
from django.test import Client

from accounts.models import User
from accounts.services import user_set_active
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple 42"
TOKEN_URL = "/auth/session-token"


@pytest.fixture
def account(db):
    """A standalone password account, as /register or POST /api/auth/register/ make them."""
    return User.objects.create_user(email="ada@example.com", password=PASSWORD, name="Ada Lovelace")


@pytest.fixture
def csrf_client():
    """A browser-like client: every POST needs the CSRF token from the page it came from."""
    return Client(enforce_csrf_checks=True)


def csrf_token_of(response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match, "the page has no CSRF token field"
    return match[1]


def sign_in(client, email="ada@example.com", password=PASSWORD, **extra):
    page = client.get("/login")
    return client.post(
        "/login",
        {"username": email, "password": password, "csrfmiddlewaretoken": csrf_token_of(page), **extra},
    )


def register(client, email="new@example.com", password=PASSWORD, again=None, name="New Person", **extra):
    page = client.get("/register")
    data = {
        "name": name,
        "email": email,
        "password1": password,
        "password2": password if again is None else again,
        "csrfmiddlewaretoken": csrf_token_of(page),
        **extra,
    }
    return client.post("/register", data)


def session_cookie_header(response) -> str:
    return response.cookies["sessionid"].output()


def limit_auth_rate(settings, rate: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": rate},
    }


# --- Sign in ------------------------------------------------------------------------------------
def test_login_page_has_labelled_fields_and_a_csrf_token(csrf_client):
    page = csrf_client.get("/login")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<label for="id_username">Email</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert 'autocomplete="current-password"' in html
    assert csrf_token_of(page)
    assert "no-store" in page["Cache-Control"]


def test_signing_in_starts_an_httponly_lax_secure_session_and_goes_to_the_task_page(account, csrf_client):
    response = sign_in(csrf_client)
    assert response.status_code == 302
    assert response["Location"] == "/"
    cookie = session_cookie_header(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    # The tests run with DJANGO_DEBUG=false, as production does: the cookie is HTTPS-only.
    assert "Secure" in cookie
    assert csrf_client.get("/").status_code == 200


def test_session_cookie_is_not_secure_when_configured_for_plain_http_development(account, settings):
    settings.SESSION_COOKIE_SECURE = False
    response = sign_in(Client())
    assert "Secure" not in session_cookie_header(response)


def test_sign_in_also_takes_the_email_in_another_case(account, csrf_client):
    assert sign_in(csrf_client, email="ADA@Example.com").status_code == 302


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong password 123"), ("nobody@example.com", PASSWORD), ("", PASSWORD)],
)
def test_wrong_email_or_password_is_refused_in_words(account, csrf_client, email, password):
    response = sign_in(csrf_client, email=email, password=password)
    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "Wrong email or password." in html or "This field is required." in html
    assert csrf_client.get("/").status_code == 302


def test_login_post_without_csrf_token_is_refused(account, csrf_client):
    response = csrf_client.post("/login", {"username": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert "sessionid" not in response.cookies


def test_login_from_another_site_is_refused_even_with_a_token(account, csrf_client, settings):
    # An attacker's page can copy a token field, not the victim's CSRF cookie pairing and origin.
    page = csrf_client.get("/login")
    response = csrf_client.post(
        "/login",
        {"username": "ada@example.com", "password": PASSWORD, "csrfmiddlewaretoken": csrf_token_of(page)},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_deactivated_account_cannot_sign_in(account, csrf_client):
    user_set_active(user=account, active=False)
    response = sign_in(csrf_client)
    assert response.status_code == 200
    assert "sessionid" not in response.cookies


def test_account_without_a_password_cannot_sign_in(csrf_client):
    # Better Auth users provisioned from a token have no usable password here.
    UserFactory(email="token-only@example.com")
    assert sign_in(csrf_client, email="token-only@example.com", password="").status_code == 200
    assert "sessionid" not in sign_in(csrf_client, email="token-only@example.com").cookies


def test_staff_account_is_refused_like_a_wrong_password(csrf_client):
    # A session from /login would open the admin without the admin login's lockout.
    User.objects.create_user(email="staff@example.com", password=PASSWORD, is_staff=True)
    response = sign_in(csrf_client, email="staff@example.com")
    assert response.status_code == 200
    assert "Wrong email or password." in response.content.decode()
    assert "sessionid" not in response.cookies


def test_login_follows_a_local_next_and_ignores_another_sites(account):
    assert sign_in(Client(), next="/?status=pending")["Location"] == "/?status=pending"
    assert sign_in(Client(), next="https://evil.example/")["Location"] == "/"
    assert sign_in(Client(), next="//evil.example/")["Location"] == "/"


def test_signed_in_user_opening_login_goes_to_the_task_page(account, client):
    client.force_login(account)
    response = client.get("/login")
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_attempts_share_the_api_auth_rate_limit(account, settings, api_client):
    limit_auth_rate(settings, "3/min")
    for _ in range(2):
        api_client.post("/api/auth/token/", {"email": "ada@example.com", "password": "nope"}, format="json")
    assert sign_in(Client(), password="wrong password 1").status_code == 200  # the third attempt
    response = sign_in(Client())  # the fourth, with the right password
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many sign-in attempts" in response.content.decode()
    assert "sessionid" not in response.cookies


def test_throttled_login_page_still_shows_the_form(account, settings):
    limit_auth_rate(settings, "1/min")
    sign_in(Client(), password="wrong password 1")
    html = sign_in(Client()).content.decode()
    assert 'name="username"' in html and 'role="alert"' in html


# --- Register -----------------------------------------------------------------------------------
def test_register_creates_a_password_account_and_signs_in(csrf_client):
    response = register(csrf_client)
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(email="new@example.com")
    assert user.name == "New Person"
    assert user.check_password(PASSWORD)
    assert user.password.startswith("argon2")
    assert len(user.pk) == 32
    assert "HttpOnly" in session_cookie_header(response)
    assert csrf_client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("83729104652", "This password is entirely numeric."),
    ],
)
def test_register_applies_the_same_password_rules_as_the_api(csrf_client, api_client, password, message):
    page = register(csrf_client, password=password)
    assert page.status_code == 200
    assert message in page.content.decode()
    api = api_client.post(
        "/api/auth/register/", {"email": "api@example.com", "password": password}, format="json"
    )
    assert message in api.json()["errors"]["password"]
    assert not User.objects.filter(email__in=["new@example.com", "api@example.com"]).exists()


def test_register_refuses_a_password_like_the_email(csrf_client):
    html = register(csrf_client, email="margaretmitchell@example.com", password="margaretmitchell").content
    assert "The password is too similar to the email." in html.decode()


def test_register_refuses_an_email_that_already_has_an_account(account, csrf_client):
    response = register(csrf_client, email="ADA@example.com")
    assert response.status_code == 200
    html = response.content.decode()
    assert "An account with this email already exists." in html
    assert 'aria-invalid="true"' in html
    assert User.objects.filter(email__iexact="ada@example.com").count() == 1


def test_register_refuses_two_different_passwords(csrf_client):
    response = register(csrf_client, again="another password 99")
    assert "The two passwords are not the same." in response.content.decode()
    assert not User.objects.filter(email="new@example.com").exists()


def test_register_errors_are_tied_to_their_fields_for_screen_readers(csrf_client):
    html = register(csrf_client, email="not-an-email").content.decode()
    assert 'id="id_email_error"' in html
    assert re.search(
        r'<input[^>]*aria-describedby="id_email_error"[^>]*name="email"|'
        r'<input[^>]*name="email"[^>]*aria-describedby="id_email_error"',
        html,
    )


def test_register_post_without_csrf_token_is_refused(csrf_client):
    response = csrf_client.post(
        "/register",
        {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 403
    assert not User.objects.filter(email="new@example.com").exists()


def test_register_is_rate_limited_with_sign_in(settings):
    limit_auth_rate(settings, "2/min")
    register(Client(), email="one@example.com")
    register(Client(), email="two@example.com")
    response = register(Client(), email="three@example.com")
    assert response.status_code == 429
    assert not User.objects.filter(email="three@example.com").exists()


def test_register_ignores_a_next_to_another_site(csrf_client):
    assert register(csrf_client, next="https://evil.example/")["Location"] == "/"


# --- Sign out -----------------------------------------------------------------------------------
def test_logout_by_post_ends_the_session(account, csrf_client):
    sign_in(csrf_client)
    page = csrf_client.get("/")
    response = csrf_client.post("/logout", {"csrfmiddlewaretoken": csrf_token_of(page)})
    assert response.status_code == 302
    assert response["Location"] == "/login"
    assert csrf_client.get("/")["Location"] == "/login?next=/"
    assert csrf_client.get(TOKEN_URL).status_code == 401
    assert "You have signed out." in csrf_client.get("/login").content.decode()


def test_logout_without_csrf_token_keeps_the_session(account, csrf_client):
    # Otherwise any site could sign our users out.
    sign_in(csrf_client)
    assert csrf_client.post("/logout").status_code == 403
    assert csrf_client.get(TOKEN_URL).status_code == 200


def test_logout_by_get_only_asks(account, csrf_client):
    sign_in(csrf_client)
    page = csrf_client.get("/logout")
    assert page.status_code == 200
    assert 'action="/logout"' in page.content.decode()
    assert csrf_client.get(TOKEN_URL).status_code == 200


# --- The session-token endpoint -----------------------------------------------------------------
def test_session_token_is_a_short_lived_token_the_api_accepts(account, client, settings):
    sign_in(client)
    response = client.get(TOKEN_URL)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["user"] == {"id": account.pk, "email": "ada@example.com", "name": "Ada Lovelace"}
    assert 0 < body["expires_in"] <= 300
    claims = jwt.decode(
        body["token"],
        settings.BETTER_AUTH_SECRET.encode(),
        algorithms=["HS256"],
        options={"verify_aud": False},
    )
    assert claims["sub"] == account.pk
    assert claims["exp"] - time.time() <= body["expires_in"] + 1
    api = Client().get(f"/api/{account.pk}/tasks/", headers={"Authorization": f"Bearer {body['token']}"})
    assert api.status_code == 200
    assert api.json() == []


def test_session_token_lifetime_never_exceeds_the_configured_access_lifetime(account, client, settings):
    settings.ACCESS_TOKEN_LIFETIME_SECONDS = 60
    sign_in(client)
    assert client.get(TOKEN_URL).json()["expires_in"] == 60


def test_session_token_with_a_trailing_slash_is_the_same_route(account, client):
    sign_in(client)
    assert client.get(TOKEN_URL + "/").status_code == 200


def test_session_token_without_a_session_is_401_problem_json(client):
    response = client.get(TOKEN_URL)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"
    assert response.json()["detail"]


def test_session_token_ignores_a_bearer_token(client, auth_header):
    # It trades a session for a token, not a token for a token.
    assert client.get(TOKEN_URL, **auth_header).status_code == 401


def test_session_token_is_refused_to_other_sites(account, client):
    sign_in(client)
    for site in ("cross-site", "same-site"):
        response = client.get(TOKEN_URL, headers={"Sec-Fetch-Site": site})
        assert response.status_code == 403
        assert "token" not in response.json()
    assert client.get(TOKEN_URL, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200


def test_session_token_is_not_exposed_through_cors(account, client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    sign_in(client)
    response = client.get(TOKEN_URL, headers={"Origin": "https://app.example.com"})
    assert "Access-Control-Allow-Origin" not in response


def test_session_token_refuses_other_methods(account, client):
    sign_in(client)
    response = client.post(TOKEN_URL)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_session_of_a_user_deactivated_later_gets_no_token(account, client):
    sign_in(client)
    user_set_active(user=account, active=False)
    assert client.get(TOKEN_URL).status_code == 401
    assert client.get("/").status_code == 302


# --- The task page ------------------------------------------------------------------------------
def test_task_page_without_a_session_redirects_to_sign_in(client):
    response = client.get("/?status=pending")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=/%3Fstatus%3Dpending"


def test_task_page_gives_its_script_the_user_and_a_strict_content_security_policy(account, client):
    sign_in(client)
    response = client.get("/")
    html = response.content.decode()
    assert f'"userId": "{account.pk}"' in html
    assert f'"apiBase": "/api/{account.pk}"' in html
    assert '"tokenUrl": "/auth/session-token"' in html
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "no-store" in response["Cache-Control"]
    # Nothing on the page holds a token: the script asks for one.
    assert "eyJ" not in html


def test_task_page_escapes_the_users_name(client):
    user = User.objects.create_user(
        email="x@example.com", password=PASSWORD, name="<script>alert(1)</script>"
    )
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_every_page_has_its_label_for_each_control(account, client):
    sign_in(client)
    html = client.get("/").content.decode()
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html))
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    assert ids and ids <= labelled, ids - labelled


def test_static_assets_are_served(client, settings):
    # Production serves them from collectstatic's output (todo_project/tests/test_deploy_gunicorn.py);
    # here whitenoise reads them from the apps, so the test does not depend on a collected tree.
    settings.WHITENOISE_USE_FINDERS = True
    for path in ("/static/web/app.js", "/static/web/app.css", "/static/web/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200, path


# --- Standalone mode off: sign-in belongs to the frontend ---------------------------------------
@pytest.fixture
def frontend_mode(settings):
    settings.LOCAL_AUTH_ENABLED = False
    settings.FRONTEND_URL = "https://app.example.com"


@pytest.mark.parametrize("path", ["/", "/login", "/register"])
def test_pages_point_to_the_frontend_when_local_auth_is_off(frontend_mode, client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Sign in happens in the app" in html
    assert 'href="https://app.example.com"' in html
    assert 'name="password' not in html


def test_login_post_does_nothing_when_local_auth_is_off(frontend_mode, account, client):
    response = client.post("/login", {"username": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert "sessionid" not in response.cookies


def test_register_post_creates_nothing_when_local_auth_is_off(frontend_mode, client):
    client.post("/register", {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD})
    assert not User.objects.filter(email="new@example.com").exists()


def test_session_token_is_404_when_local_auth_is_off(frontend_mode, account, client):
    client.force_login(account)  # e.g. a staff member signed into the admin
    response = client.get(TOKEN_URL)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("url", ["", "javascript:alert(1)", "/relative"])
def test_frontend_notice_without_a_usable_frontend_url_links_nowhere(settings, client, url):
    settings.LOCAL_AUTH_ENABLED = False
    settings.FRONTEND_URL = url
    html = client.get("/login").content.decode()
    assert "Sign in happens in the app" in html
    assert "javascript:" not in html
    assert "Open the Todo app" not in html


def test_the_service_worker_is_served_from_the_root_as_javascript_under_the_csp(client):
    response = client.get("/sw.js")  # no session needed: the browser fetches it for updates too
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    body = response.content.decode()
    for event in ("push", "notificationclick"):
        assert f'addEventListener("{event}"' in body
    assert client.post("/sw.js").status_code == 405


def test_the_task_page_tells_its_script_where_the_service_worker_and_the_push_key_are(account, client):
    client.force_login(account)
    response = client.get("/")
    config = response.context["config"]
    assert config["serviceWorkerUrl"] == "/sw.js"
    assert config["pushKeyUrl"] == "/api/push/public-key/"
    assert client.get(config["pushKeyUrl"]).status_code in {200, 503}  # the route exists
