"""Issue 12, point 3: failed sign-ins are throttled per account, from however many addresses, with
backoff; the account's usual address keeps working, and the lock ends after its cool-off."""

import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts import login_throttle
from accounts.models import User
from core.tests.support import assert_problem

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token/"
PASSWORD = "correct horse battery staple 42"
WRONG = "not the password at all"


class Clock:
    """The throttle's clock, moved by hand (the cache keeps its entries meanwhile)."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(login_throttle, "time", fake)
    return fake


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user(email="alice@example.com", password=PASSWORD, name="Alice")


def sign_in(address: str, password: str = PASSWORD, login: str = "alice@example.com"):
    client = APIClient(REMOTE_ADDR=address)
    return client.post(TOKEN, {"email": login, "password": password}, format="json")


def fail_from_many_addresses(count: int, login: str = "alice@example.com", start: int = 1) -> None:
    for number in range(start, start + count):
        assert sign_in(f"198.51.100.{number}", WRONG, login).status_code == 401


def test_failures_from_many_addresses_lock_the_account_even_for_the_right_password(alice, clock):
    fail_from_many_addresses(5)
    response = sign_in("203.0.113.9")
    assert_problem(response, 429, "rate_limited")
    assert response["Retry-After"] == "30"


def test_below_the_limit_the_right_password_works(alice, clock):
    fail_from_many_addresses(4)
    assert sign_in("203.0.113.9").status_code == 200


def test_the_lock_ends_after_its_cool_off(alice, clock):
    fail_from_many_addresses(5)
    clock.now += 31
    assert sign_in("203.0.113.9").status_code == 200


def test_each_failure_after_the_limit_doubles_the_lock_up_to_the_maximum(alice, clock, settings):
    settings.LOGIN_ACCOUNT_BACKOFF_MAX_SECONDS = 200
    fail_from_many_addresses(5)
    waits = []
    for number in range(6, 11):
        clock.now += 1000  # past any lock
        assert sign_in(f"198.51.100.{number}", WRONG).status_code == 401
        waits.append(int(sign_in("203.0.113.9")["Retry-After"]))
    assert waits == [60, 120, 200, 200, 200]


def test_attempts_during_a_lock_are_refused_without_extending_it(alice, clock):
    fail_from_many_addresses(5)
    clock.now += 20
    for number in range(20, 30):
        assert sign_in(f"198.51.100.{number}", WRONG).status_code == 429
    assert sign_in("203.0.113.9")["Retry-After"] == "10"
    clock.now += 11
    assert sign_in("203.0.113.9").status_code == 200


def test_the_usual_address_keeps_signing_in_during_an_attack(alice, clock):
    assert sign_in("192.0.2.10").status_code == 200  # the user's own network
    fail_from_many_addresses(5)
    for number in range(6, 12):  # the attack goes on, refused
        assert sign_in(f"198.51.100.{number}", WRONG).status_code == 429
    assert sign_in("203.0.113.9").status_code == 429  # elsewhere: locked
    assert sign_in("192.0.2.10").status_code == 200  # home: still fine


def test_failures_from_the_usual_address_do_not_lock_the_account(alice, clock):
    assert sign_in("192.0.2.10").status_code == 200
    for _ in range(8):
        assert sign_in("192.0.2.10", WRONG).status_code == 401
    assert sign_in("203.0.113.9").status_code == 200


def test_every_spelling_of_an_account_counts_against_it(alice, clock):
    for number, login in enumerate(["ALICE@example.com", "alice@EXAMPLE.com", alice.pk, "Alice@Example.COM"]):
        assert sign_in(f"198.51.100.{number}", WRONG, login).status_code == 401
    assert sign_in("198.51.100.99", WRONG, alice.pk).status_code == 401
    assert sign_in("203.0.113.9").status_code == 429


def test_an_unknown_account_is_locked_the_same_way(db, clock):
    # The answer does not tell which emails have accounts.
    fail_from_many_addresses(5, login="nobody@example.com")
    assert_problem(sign_in("203.0.113.9", WRONG, "nobody@example.com"), 429, "rate_limited")


def test_other_accounts_are_not_affected(alice, clock):
    User.objects.create_user(email="bob@example.com", password=PASSWORD)
    fail_from_many_addresses(5)
    assert sign_in("203.0.113.9").status_code == 429
    assert sign_in("203.0.113.9", login="bob@example.com").status_code == 200


def test_the_login_page_shares_the_account_throttle(alice, clock):
    fail_from_many_addresses(5)
    page = Client(REMOTE_ADDR="203.0.113.9").post(
        "/login", {"username": "alice@example.com", "password": PASSWORD}
    )
    assert page.status_code == 429
    assert page["Retry-After"] == "30"
    assert b"Too many failed sign-ins for this account" in page.content


def test_failures_on_the_login_page_lock_the_api_too(alice, clock):
    for number in range(5):
        page = Client(REMOTE_ADDR=f"198.51.100.{number}").post(
            "/login", {"username": "alice@example.com", "password": WRONG}
        )
        assert page.status_code == 200
    assert sign_in("203.0.113.9").status_code == 429
    clock.now += 31
    page = Client(REMOTE_ADDR="203.0.113.9").post(
        "/login", {"username": "alice@example.com", "password": PASSWORD}
    )
    assert page.status_code == 302


def test_the_login_page_is_not_behind_the_admins_lockout(alice, clock):
    # django-axes used to count /login failures too: five from anywhere locked the account there for
    # 15 minutes, renewed by every attempt. The account's usual address must not be locked out.
    assert (
        Client(REMOTE_ADDR="192.0.2.10")
        .post("/login", {"username": "alice@example.com", "password": PASSWORD})
        .status_code
        == 302
    )
    for number in range(8):
        Client(REMOTE_ADDR=f"198.51.100.{number}").post(
            "/login", {"username": "alice@example.com", "password": WRONG}
        )
    page = Client(REMOTE_ADDR="192.0.2.10").post(
        "/login", {"username": "alice@example.com", "password": PASSWORD}
    )
    assert page.status_code == 302


def test_a_login_form_with_a_missing_field_counts_for_nothing(alice, clock):
    for number in range(8):
        page = Client(REMOTE_ADDR=f"198.51.100.{number}").post("/login", {"username": "alice@example.com"})
        assert page.status_code == 200
    assert sign_in("203.0.113.9").status_code == 200
