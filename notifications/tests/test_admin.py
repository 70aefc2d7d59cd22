"""Staff views of subscriptions, reminders and failed deliveries, through admin_client."""

import pytest

from accounts.tests.factories import UserFactory
from notifications.models import DeliveryState, ReminderDelivery
from notifications.services import deliver_due_reminders
from notifications.tests.support import due_reminder, subscribe

pytestmark = pytest.mark.django_db
MAX_LIST_QUERIES = 8


@pytest.fixture
def history(push_service):
    """Alice: a reminder sent to one browser and refused by another; Bob: a reminder pending ahead."""
    alice = UserFactory(email="alice@example.com")
    bob = UserFactory(email="bob@example.com")
    subscribe(alice, push_service.browser("good"))
    subscribe(alice, push_service.browser("bad"))
    subscribe(bob, push_service.browser("bobs"))
    push_service.answer("bad", 403)
    carol = UserFactory(email="carol@example.com")
    subscribe(carol, push_service.browser("refusing"))
    push_service.answer("refusing", 403)
    due_reminder(carol, title="Carol's call")
    sent = due_reminder(alice, title="Alice's dentist")
    ahead = due_reminder(bob, title="Bob's train", seconds_ago=-3600)
    deliver_due_reminders()
    return {"alice": alice, "bob": bob, "sent": sent, "ahead": ahead}


def test_reminder_list_filters_by_state_and_owner_in_bounded_queries(
    admin_client, history, django_assert_max_num_queries
):
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        page = admin_client.get("/admin/tasks/reminder/").content.decode()
    assert "Alice&#x27;s dentist" in page and "Bob&#x27;s train" in page
    sent_only = admin_client.get("/admin/tasks/reminder/?state=sent").content.decode()
    assert "Alice&#x27;s dentist" in sent_only and "Bob&#x27;s train" not in sent_only
    failed_only = admin_client.get("/admin/tasks/reminder/?state=failed").content.decode()
    assert "Carol&#x27;s call" in failed_only and "Alice&#x27;s dentist" not in failed_only
    bobs = admin_client.get(f"/admin/tasks/reminder/?owner={history['bob'].pk}").content.decode()
    assert "Bob&#x27;s train" in bobs and "Alice&#x27;s dentist" not in bobs
    by_email = admin_client.get("/admin/tasks/reminder/?q=alice@example.com").content.decode()
    assert "Alice&#x27;s dentist" in by_email and "Bob&#x27;s train" not in by_email


def test_a_reminders_page_shows_each_push_and_its_failure(admin_client, history):
    page = admin_client.get(f"/admin/tasks/reminder/{history['sent'].pk}/change/").content.decode()
    assert "403 Forbidden" in page
    assert page.count(DeliveryState.FAILED.value) >= 1 and DeliveryState.SENT.value in page
    failures = admin_client.get("/admin/notifications/reminderdelivery/?state=failed").content.decode()
    assert "403 Forbidden" in failures
    assert ReminderDelivery.objects.filter(state=DeliveryState.FAILED).count() == 2


def test_subscriptions_per_user_and_searchable(admin_client, history, django_assert_max_num_queries):
    alice = history["alice"]
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        response = admin_client.get(f"/admin/notifications/pushsubscription/?owner={alice.pk}")
    assert response.status_code == 200
    assert response.content.decode().count('<td class="field-push_service">127.0.0.1') == 2
    by_id = admin_client.get(f"/admin/notifications/pushsubscription/?q={history['bob'].pk}").content.decode()
    assert by_id.count('<td class="field-push_service">127.0.0.1') == 1
    user_page = admin_client.get(f"/admin/accounts/user/{alice.pk}/change/").content.decode()
    assert "2 subscriptions" in user_page and f"?owner={alice.pk}" in user_page


def test_staff_cannot_forge_subscriptions_or_reminders(admin_client, history):
    assert admin_client.get("/admin/notifications/pushsubscription/add/").status_code == 403
    assert admin_client.get("/admin/tasks/reminder/add/").status_code == 403
