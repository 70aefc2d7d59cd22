"""Delivery of due reminders to a real push service on 127.0.0.1 (docs/API.md §7): VAPID, aes128gcm,
what each answer of the push service does, and the leases that make a crash lose nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import DeliveryState, PushSubscription, ReminderDelivery
from notifications.services import MAX_ATTEMPTS, deliver_due_reminders, reminders_claim_due
from notifications.tests.support import due_reminder, expected_payload, subscribe
from tasks.models import ReminderState

pytestmark = pytest.mark.django_db


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_a_due_reminder_is_pushed_encrypted_and_signed_and_marked_sent_once(user, push_service):
    browser = push_service.browser("laptop")
    subscription = subscribe(user, browser)
    reminder = due_reminder(user, title="Café ☕ at 5")

    report = deliver_due_reminders()

    assert report.reminders_sent == 1
    assert push_service.received["laptop"] == [expected_payload(reminder)]
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT
    assert reminder.sent_at is not None and reminder.claimed_until is None
    subscription.refresh_from_db()
    assert subscription.last_success_at == reminder.sent_at
    delivery = ReminderDelivery.objects.get(reminder=reminder)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (DeliveryState.SENT, 1, 201)

    # Scanning again sends nothing more and leaves sent_at as it was written.
    sent_at = reminder.sent_at
    assert deliver_due_reminders(now=later(600)).reminders_sent == 0
    reminder.refresh_from_db()
    assert reminder.sent_at == sent_at
    assert push_service.requests["laptop"] == 1


def test_two_subscriptions_each_receive_it(user, other_user, push_service):
    phone, laptop, stranger = (push_service.browser(name) for name in ("phone", "laptop", "stranger"))
    subscribe(user, phone)
    subscribe(user, laptop)
    subscribe(other_user, stranger)
    reminder = due_reminder(user)

    deliver_due_reminders()

    assert push_service.received["phone"] == [expected_payload(reminder)]
    assert push_service.received["laptop"] == [expected_payload(reminder)]
    assert push_service.requests["stranger"] == 0
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT


def test_without_subscriptions_the_reminder_is_still_sent(user, push_service):
    reminder = due_reminder(user)
    deliver_due_reminders()
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT and reminder.sent_at is not None
    assert not ReminderDelivery.objects.exists()


def test_a_reminder_not_yet_due_or_skipped_is_not_sent(user, push_service):
    subscribe(user, push_service.browser("laptop"))
    ahead = due_reminder(user, seconds_ago=-120)
    skipped = due_reminder(user, state=ReminderState.SKIPPED)

    assert deliver_due_reminders().reminders_sent == 0

    assert push_service.requests["laptop"] == 0
    ahead.refresh_from_db()
    skipped.refresh_from_db()
    assert (ahead.state, ahead.sent_at) == (ReminderState.PENDING, None)
    assert (skipped.state, skipped.sent_at) == (ReminderState.SKIPPED, None)
    # Once its time comes, it goes.
    deliver_due_reminders(now=later(121))
    ahead.refresh_from_db()
    assert ahead.state == ReminderState.SENT
    assert push_service.received["laptop"] == [expected_payload(ahead)]


@pytest.mark.parametrize("status", [404, 410])
def test_an_expired_subscription_is_removed(user, push_service, status):
    gone, kept = push_service.browser("gone"), push_service.browser("kept")
    subscribe(user, gone)
    subscribe(user, kept)
    push_service.answer("gone", status)
    reminder = due_reminder(user)

    deliver_due_reminders()

    assert list(PushSubscription.objects.filter(user=user).values_list("endpoint", flat=True)) == [
        kept.endpoint
    ]
    delivery = ReminderDelivery.objects.get(
        reminder=reminder, endpoint_origin=push_service.origin, state=DeliveryState.GONE
    )
    assert delivery.last_status == status and delivery.subscription is None
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT
    # Nothing is pushed to it again.
    deliver_due_reminders(now=later(3600))
    assert push_service.requests["gone"] == 1


def test_a_rate_limited_push_is_retried_later_and_then_sent(user, push_service):
    subscription = subscribe(user, push_service.browser("laptop"))
    push_service.answer("laptop", 429)
    reminder = due_reminder(user)

    report = deliver_due_reminders()

    assert report.reminders_waiting == 1
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.PENDING and reminder.sent_at is None
    delivery = ReminderDelivery.objects.get(reminder=reminder)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (DeliveryState.PENDING, 1, 429)
    # Not before its backoff: a scan in the meantime does not push it.
    deliver_due_reminders(now=later(5))
    assert push_service.requests["laptop"] == 1

    deliver_due_reminders(now=later(20))

    assert push_service.requests["laptop"] == 2
    assert push_service.received["laptop"] == [expected_payload(reminder)]
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT
    subscription.refresh_from_db()
    assert subscription.last_success_at is not None


def test_five_server_errors_fail_the_subscription_and_the_reminder(user, push_service):
    subscribe(user, push_service.browser("laptop"))
    push_service.answer("laptop", *[500] * 6)
    reminder = due_reminder(user)

    seconds = 0
    for _ in range(10):
        deliver_due_reminders(now=later(seconds))
        seconds += 200  # past any backoff
    assert push_service.requests["laptop"] == MAX_ATTEMPTS
    delivery = ReminderDelivery.objects.get(reminder=reminder)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.FAILED,
        MAX_ATTEMPTS,
        500,
    )
    reminder.refresh_from_db()
    assert (reminder.state, reminder.sent_at) == (ReminderState.FAILED, None)
    # The subscription stays: a push service having a bad day is not an unsubscribed browser.
    assert PushSubscription.objects.filter(user=user).count() == 1


def test_one_failed_subscription_of_two_still_leaves_the_reminder_sent(user, push_service):
    subscribe(user, push_service.browser("broken"))
    subscribe(user, push_service.browser("fine"))
    push_service.answer("broken", 400)
    reminder = due_reminder(user)

    deliver_due_reminders()

    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT
    states = dict(ReminderDelivery.objects.filter(reminder=reminder).values_list("last_status", "state"))
    assert states == {400: DeliveryState.FAILED, 201: DeliveryState.SENT}
    assert push_service.requests["broken"] == 1  # a 400 is not retried


def test_an_unreachable_push_service_is_retried(user, push_service, vapid):
    from notifications.services import push_subscription_save

    # A port nobody listens on: connection refused, a network error.
    push_subscription_save(
        user=user,
        endpoint="http://127.0.0.1:9/push/x",
        p256dh=push_service.browser("x").p256dh,
        auth="AAAAAAAAAAAAAAAAAAAAAA",
    )
    reminder = due_reminder(user)
    deliver_due_reminders()
    delivery = ReminderDelivery.objects.get(reminder=reminder)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (DeliveryState.PENDING, 1, None)
    assert delivery.last_error.startswith("network")


def test_a_claim_whose_worker_died_is_delivered_by_the_next_scan_after_its_lease(
    user, push_service, settings
):
    subscribe(user, push_service.browser("laptop"))
    reminder = due_reminder(user)
    claim = reminders_claim_due()  # ... and the worker that made it is killed here
    assert claim is not None and claim.reminder_ids == [reminder.pk]

    # While the lease holds, nobody else takes it.
    assert deliver_due_reminders().reminders_sent == 0
    assert push_service.requests["laptop"] == 0

    deliver_due_reminders(now=later(settings.REMINDER_LEASE_SECONDS + 1))

    assert push_service.received["laptop"] == [expected_payload(reminder)]
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT


def test_a_reminder_completed_while_being_delivered_stays_skipped(user, push_service):
    from notifications.services import reminders_deliver

    reminder = due_reminder(user)
    claim = reminders_claim_due()
    reminder.__class__.objects.filter(pk=reminder.pk).update(state=ReminderState.SKIPPED)
    reminders_deliver(claim=claim)
    reminder.refresh_from_db()
    assert (reminder.state, reminder.sent_at) == (ReminderState.SKIPPED, None)


def test_without_a_vapid_key_nothing_crashes_and_the_failure_is_recorded(
    user, push_service, settings, caplog
):
    subscribe(user, push_service.browser("laptop"))
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    reminder = due_reminder(user)

    deliver_due_reminders()

    assert push_service.requests["laptop"] == 0
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.FAILED
    delivery = ReminderDelivery.objects.get(reminder=reminder)
    assert delivery.state == DeliveryState.FAILED and "WEBPUSH_VAPID_PRIVATE_KEY" in delivery.last_error
    assert "Web Push is not configured" in caplog.text


def test_garbage_keys_stored_by_hand_fail_that_subscription_only(user, push_service):
    subscribe(user, push_service.browser("fine"))
    # Written around the API's validation (an old row, a bad import): not a key at all.
    PushSubscription.objects.create(
        user=user, endpoint=f"{push_service.origin}/push/broken", p256dh="!!", auth="?"
    )
    reminder = due_reminder(user)

    deliver_due_reminders()

    assert push_service.received["fine"] == [expected_payload(reminder)]
    assert push_service.requests["broken"] == 0
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT
    broken = ReminderDelivery.objects.get(reminder=reminder, state=DeliveryState.FAILED)
    assert broken.last_status is None and broken.last_error  # never reached a push service


def test_a_time_budget_stops_between_batches_and_says_more_is_due(user, push_service):
    from notifications.services import DELIVERY_BATCH

    subscribe(user, push_service.browser("laptop"))
    for n in range(DELIVERY_BATCH + 1):
        due_reminder(user, title=f"R{n}")

    first = deliver_due_reminders(limit=DELIVERY_BATCH)
    assert (first.reminders_sent, first.more) == (DELIVERY_BATCH, True)
    second = deliver_due_reminders(time_budget=60)
    assert (second.reminders_sent, second.more) == (1, False)
    assert push_service.requests["laptop"] == DELIVERY_BATCH + 1


def test_a_reminder_re_armed_while_being_delivered_waits_for_its_new_time(user, push_service):
    from notifications.services import reminders_deliver

    subscribe(user, push_service.browser("laptop"))
    reminder = due_reminder(user)
    claim = reminders_claim_due()
    # The task's due date moved while the push was being made: the services move fire_at.
    new_fire_at = reminder.fire_at + timedelta(hours=1)
    reminder.__class__.objects.filter(pk=reminder.pk).update(fire_at=new_fire_at)
    reminders_deliver(claim=claim)

    reminder.refresh_from_db()
    assert (reminder.state, reminder.sent_at) == (ReminderState.PENDING, None)
    deliver_due_reminders(now=new_fire_at + timedelta(seconds=1))
    reminder.refresh_from_db()
    assert reminder.state == ReminderState.SENT
