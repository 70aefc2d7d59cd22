"""The user admin and the admin login: moderation, history, and brute-force throttling."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.tests.factories import UserFactory
from tasks.tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"
LOGIN = "/admin/login/"
PASSWORD = "correct-horse-battery-staple-7"
MAX_LIST_QUERIES = 8


def user_ids(response) -> set[str]:
    return set(re.findall(r'<th class="field-id"><a href="[^"]+">([^<]+)</a>', response.content.decode()))


def test_user_list_shows_task_counts_in_bounded_queries(admin_client, django_assert_max_num_queries):
    busy, idle = UserFactory(email="busy@example.com"), UserFactory(email="idle@example.com")
    TaskFactory.create_batch(3, user=busy)
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        response = admin_client.get(USERS)
    assert response.status_code == 200
    page = response.content.decode()
    assert f'?owner={busy.pk}">3 tasks</a>' in page
    assert f'?owner={idle.pk}">0 tasks</a>' in page


def test_user_list_query_count_does_not_grow_with_users(admin_client):
    UserFactory.create_batch(2)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(USERS)
    for user in UserFactory.create_batch(20):
        TaskFactory(user=user)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(USERS)
    assert len(user_ids(response)) == 23  # 22 + the admin
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_task_link_opens_that_users_tasks(admin_client):
    owner = UserFactory()
    TaskFactory(user=owner, title="Mine")
    TaskFactory(title="Someone else's")
    response = admin_client.get(f"/admin/tasks/task/?owner={owner.pk}")
    assert "Mine" in response.content.decode() and "Someone else" not in response.content.decode()


@pytest.mark.parametrize("field", ["id", "email", "name"])
def test_search_finds_users_by_id_email_and_name(admin_client, field):
    wanted = UserFactory(email="wanted.person@example.com", name="Wanted Person")
    UserFactory(email="other@example.com", name="Someone Else")
    term = {"id": wanted.pk, "email": "wanted.person", "name": "Wanted"}[field]
    assert user_ids(admin_client.get(USERS, {"q": term})) == {wanted.pk}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("is_active__exact=0", {"gone"}),
        ("is_staff__exact=1", {"admin"}),
        # The "Past 7 days"-style link the joined filter builds: an aware lower bound.
        ("date_joined__gte=2020-01-01+00:00:00%2B00:00", {"admin", "gone", "here"}),
    ],
)
def test_filters_by_active_staff_and_joined(admin_client, query, expected):
    UserFactory(id="gone", is_active=False)
    UserFactory(id="here")
    UserFactory(id="veteran", date_joined=datetime(2001, 1, 1, tzinfo=UTC))
    response = admin_client.get(f"{USERS}?{query}")
    assert response.status_code == 200
    assert user_ids(response) == expected


def test_joined_filter_choices_are_offered(admin_client):
    page = admin_client.get(USERS).content.decode()
    assert "date_joined__gte" in page and "is_active__exact" in page and "is_staff__exact" in page


def test_change_form_opens_with_the_id_read_only(admin_client, django_assert_max_num_queries):
    user = UserFactory()
    TaskFactory(user=user)
    with django_assert_max_num_queries(12):
        response = admin_client.get(f"{USERS}{user.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="id"' not in page and user.pk in page
    assert "1 task</a>" in page


def test_add_form_gives_a_blank_id_one_of_better_auths_shape(admin_client):
    assert admin_client.get(f"{USERS}add/").status_code == 200
    response = admin_client.post(
        f"{USERS}add/",
        {"id": "", "email": "new@example.com", "name": "New", "usable_password": "false"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(email="new@example.com")
    assert re.fullmatch(r"[A-Za-z0-9]{32}", user.pk)
    assert not user.has_usable_password()


def test_deactivate_action_refuses_tokens_at_once_and_is_recorded(admin_client, api_client, make_token):
    user = UserFactory()
    api_client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {make_token(user.pk, email=user.email, name=user.name)}"
    )
    assert api_client.get(f"/api/{user.pk}/tasks/").status_code == 200

    response = admin_client.post(
        USERS, {"action": "deactivate_users", "_selected_action": [user.pk]}, follow=True
    )
    assert "1 user(s) deactivated." in response.content.decode()
    refused = api_client.get(f"/api/{user.pk}/tasks/")
    assert refused.status_code == 403 and refused.json()["code"] == "account_disabled"
    entry = LogEntry.objects.get(object_id=user.pk, action_flag=CHANGE)
    assert entry.get_change_message() == "Deactivated the account."
    history = admin_client.get(f"{USERS}{user.pk}/history/").content.decode()
    assert "Deactivated the account." in history

    admin_client.post(USERS, {"action": "reactivate_users", "_selected_action": [user.pk]})
    assert api_client.get(f"/api/{user.pk}/tasks/").status_code == 200
    assert LogEntry.objects.filter(object_id=user.pk, change_message="Reactivated the account.").exists()


def test_deactivating_more_users_than_one_action_may_is_refused(admin_client, monkeypatch):
    from accounts import admin as accounts_admin

    monkeypatch.setattr(accounts_admin, "ACTION_LIMIT", 1)
    users = UserFactory.create_batch(2)
    response = admin_client.post(
        USERS, {"action": "deactivate_users", "_selected_action": [user.pk for user in users]}, follow=True
    )
    assert "An action changes at most 1 users" in response.content.decode()
    assert User.objects.filter(is_active=False).count() == 0


def test_staff_cannot_deactivate_themselves(admin_client, admin_user):
    response = admin_client.post(
        USERS, {"action": "deactivate_users", "_selected_action": [admin_user.pk]}, follow=True
    )
    assert "You cannot deactivate your own account." in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_non_staff_user_cannot_get_in(client):
    user = UserFactory()
    client.force_login(user)
    for url in ("/admin/", USERS, f"{USERS}{user.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(LOGIN), url


def test_staff_without_permissions_cannot_see_users(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(USERS).status_code == 403


# --- Login and its throttling (django-axes) ---------------------------------------------------------
@pytest.fixture
def staff_account(db):
    return User.objects.create_superuser(id="staffer", email="Staff@Example.com", password=PASSWORD)


def admin_login(client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_staff_logs_in_with_email_and_password(client, staff_account):
    response = admin_login(client, "staff@example.com", PASSWORD)
    assert response.status_code == 302
    assert client.get(USERS).status_code == 200


def test_five_failures_from_one_address_lock_it_out_even_with_the_right_password(client, staff_account):
    for attempt in range(4):
        assert admin_login(client, f"someone{attempt}@example.com", "wrong").status_code == 200
    assert admin_login(client, "someone4@example.com", "wrong").status_code == 429  # the fifth locks
    locked = admin_login(client, "staff@example.com", PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed login attempts" in locked.content.decode()
    assert client.get(USERS).status_code == 302  # no session was opened
    # Another address is not locked.
    assert admin_login(client, "staff@example.com", PASSWORD, address="198.51.100.2").status_code == 302


def test_failures_against_one_account_lock_it_from_every_address_and_spelling(client, staff_account):
    spellings = [
        "staff@example.com",
        "STAFF@EXAMPLE.COM",
        "Staff@Example.com",
        "staffer",
        "sTaFf@example.com",
    ]
    for number, spelling in enumerate(spellings):
        expected = 429 if number == 4 else 200  # the fifth failure locks the account
        assert admin_login(client, spelling, "wrong", address=f"192.0.2.{number + 1}").status_code == expected
    assert admin_login(client, "staff@example.com", PASSWORD, address="192.0.2.99").status_code == 429
    # Another account from a fresh address still logs in.
    User.objects.create_superuser(id="other-staff", email="other@example.com", password=PASSWORD)
    assert admin_login(client, "other@example.com", PASSWORD, address="192.0.2.100").status_code == 302


def test_a_success_before_the_limit_resets_the_count(client, staff_account):
    for _ in range(4):
        admin_login(client, "staff@example.com", "wrong")
    assert admin_login(client, "staff@example.com", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        admin_login(client, "staff@example.com", "wrong")
    assert admin_login(client, "staff@example.com", PASSWORD).status_code == 302


def test_admin_lockout_does_not_touch_the_api_login(client, api_client, staff_account):
    # The API refuses staff accounts itself, so a user's own password account shows the API's
    # login is not behind the admin's lockout: same address, same account, both locked at /admin/.
    User.objects.create_user(id="plain-user", email="plain@example.com", password=PASSWORD)
    for _ in range(6):
        admin_login(client, "plain@example.com", "wrong", address="127.0.0.1")
    assert admin_login(client, "staff@example.com", PASSWORD, address="127.0.0.1").status_code == 429
    response = api_client.post(
        "/api/auth/token/", {"email": "plain@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert "access" in response.json()


# --- Deleting a user (issue 12): a tombstone refuses their still-valid tokens -------------------------
def test_a_deleted_users_token_does_not_bring_the_account_back(admin_client, api_client, make_token):
    from accounts.models import DeletedUser
    from accounts.tests.helpers import me
    from core.tests.support import assert_problem

    victim = UserFactory(id="gone-user")
    TaskFactory(user=victim)
    token = make_token("gone-user")
    assert me(api_client, f"Bearer {token}").status_code == 200
    page = admin_client.post(f"{USERS}gone-user/delete/", {"post": "yes"})
    assert page.status_code == 302
    assert not User.objects.filter(pk="gone-user").exists()
    assert DeletedUser.objects.get(pk="gone-user").deleted_by
    body = assert_problem(me(api_client, f"Bearer {token}"), 403, "account_disabled")
    assert "deleted" in body["detail"]
    assert not User.objects.filter(pk="gone-user").exists()


def test_users_deleted_by_the_list_action_are_tombstoned_too(admin_client, api_client, make_token):
    from accounts.tests.helpers import me
    from core.tests.support import assert_problem

    UserFactory(id="gone-a")
    UserFactory(id="gone-b")
    page = admin_client.post(
        USERS, {"action": "delete_selected", "_selected_action": ["gone-a", "gone-b"], "post": "yes"}
    )
    assert page.status_code == 302
    for user_id in ("gone-a", "gone-b"):
        assert_problem(me(api_client, f"Bearer {make_token(user_id)}"), 403, "account_disabled")
    assert not User.objects.filter(pk__in=["gone-a", "gone-b"]).exists()


def test_removing_the_tombstone_lets_the_id_be_provisioned_again(admin_client, api_client, make_token):
    from accounts.models import DeletedUser
    from accounts.tests.helpers import me

    UserFactory(id="comes-back")
    admin_client.post(f"{USERS}comes-back/delete/", {"post": "yes"})
    assert (
        admin_client.post("/admin/accounts/deleteduser/comes-back/delete/", {"post": "yes"}).status_code
        == 302
    )
    assert not DeletedUser.objects.exists()
    assert me(api_client, f"Bearer {make_token('comes-back')}").status_code == 200
