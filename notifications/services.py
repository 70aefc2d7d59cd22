"""Every write of this app: push subscriptions, and the delivery of due reminders.

Delivery keeps the database as the source of truth (docs/NOTIFICATIONS.md):

1. `reminders_claim_due` takes a batch of due pending reminders and leases it
   (`Reminder.claimed_until`): `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so that any
   number of workers claim disjoint batches; on SQLite the transaction holds the write lock from
   BEGIN (IMMEDIATE), so claims are serialised. The lease's end is also the claim's token.
2. `reminders_deliver`, right after the claim in the same worker (only reminders still carrying
   the token: not settled, re-armed or re-claimed), records a delivery per subscription on the
   first try (and calls `reminders_fell_due`), pushes what is due, writes what each push service
   answered, and settles
   each reminder: `sent` (`sent_at` written once), `failed`, or still pending with the lease moved
   to its next retry. A worker that dies mid-way loses nothing: its lease runs out and the next
   scan claims the reminder again; deliveries already recorded as sent are not pushed twice.
"""

import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from notifications import push
from notifications.errors import SubscriptionLimitReached, SubscriptionNotFound
from notifications.models import MAX_SUBSCRIPTIONS_PER_USER, DeliveryState, PushSubscription, ReminderDelivery
from notifications.vapid import VapidNotConfigured, vapid_keys
from tasks.models import Reminder, ReminderState, TaskCount
from webhooks.services import reminder_due_publish

logger = logging.getLogger(__name__)

# Tries per (reminder, subscription) before it is failed (docs/API.md §7).
MAX_ATTEMPTS = 5
# Waits before the 2nd, 3rd, 4th and 5th tries; a longer Retry-After is honoured (up to an hour).
RETRY_DELAYS_SECONDS = (15, 30, 60, 120)
MAX_RETRY_AFTER_SECONDS = 3600
# Reminders claimed and delivered at a time: small enough to finish well inside the lease.
DELIVERY_BATCH = 25
# Reminders one claim takes by default (deliver_due_reminders claims DELIVERY_BATCH at a time).
CLAIM_BATCH = 500


# --- Subscriptions ---------------------------------------------------------------------------------
@transaction.atomic
def push_subscription_save(
    *, user: User, endpoint: str, p256dh: str, auth: str
) -> tuple[PushSubscription, bool]:
    """Store the browser's subscription; the same endpoint again updates its keys. Returns
    (subscription, created). The per-user limit is checked under a lock on the user's row, so two
    concurrent posts cannot both be the 21st."""
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
    existing = PushSubscription.objects.filter(user=user, endpoint=endpoint).first()
    if existing is not None:
        if (existing.p256dh, existing.auth) != (p256dh, auth):
            existing.p256dh, existing.auth = p256dh, auth
            existing.save(update_fields=["p256dh", "auth"])
        return existing, False
    if PushSubscription.objects.filter(user=user).count() >= MAX_SUBSCRIPTIONS_PER_USER:
        raise SubscriptionLimitReached(
            f"At most {MAX_SUBSCRIPTIONS_PER_USER} push subscriptions per user; delete one first."
        )
    try:
        with transaction.atomic():
            return PushSubscription.objects.create(
                user=user, endpoint=endpoint, p256dh=p256dh, auth=auth
            ), True
    except IntegrityError:  # the same endpoint, posted concurrently
        existing = PushSubscription.objects.get(user=user, endpoint=endpoint)
        return existing, False


def push_subscription_delete(*, user: User, subscription_id: int) -> None:
    deleted, _ = PushSubscription.objects.filter(user=user, pk=subscription_id).delete()
    if not deleted:
        raise SubscriptionNotFound(f"Push subscription {subscription_id} was not found.")


# --- The hook for everything else that happens when a reminder falls due ---------------------------
def reminders_fell_due(*, reminders: Sequence[Reminder], now: datetime) -> None:
    """Called once per reminder, in the transaction that records its first delivery attempt (again
    only if a worker died before that transaction committed its outcome): whatever else a due
    reminder sets off is written here, in this transaction, so that it is neither lost nor doubled.
    That is the `reminder.due` webhook event (docs/API.md §9), owed only to users with an active
    webhook: one query finds them for the whole batch."""
    owners = {r.user_id for r in reminders}
    hooked = set(
        TaskCount.objects.filter(user_id__in=owners, webhooks_active=True).values_list("user_id", flat=True)
    )
    for reminder in reminders:
        if reminder.user_id in hooked:
            reminder_due_publish(reminder=reminder)


# --- Claiming ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    token: datetime  # the lease's end, written to claimed_until: only its holder may settle them
    fire_at: dict[int, datetime]  # each claimed reminder's fire_at when it was claimed

    @property
    def reminder_ids(self) -> list[int]:
        return list(self.fire_at)

    def only(self, reminder_id: int) -> "Claim":
        return Claim(self.token, {reminder_id: self.fire_at[reminder_id]})


def _lease_end(now: datetime) -> datetime:
    # A few random microseconds: two claims in the same microsecond still get different tokens.
    return now + timedelta(seconds=settings.REMINDER_LEASE_SECONDS, microseconds=1 + secrets.randbelow(999))


def _due(now: datetime) -> Q:
    return Q(state=ReminderState.PENDING, fire_at__lte=now) & (
        Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    )


@transaction.atomic
def reminders_claim_due(*, now: datetime | None = None, limit: int = CLAIM_BATCH) -> Claim | None:
    """Lease up to `limit` due pending reminders (the oldest first) to the caller; None when none
    are due. Uses the partial index `reminder_due` (docs/EXPLAIN.md)."""
    now = now or timezone.now()
    fire_at = dict(
        Reminder.objects.filter(_due(now))
        .order_by("fire_at")
        .select_for_update(skip_locked=True)
        .values_list("pk", "fire_at")[:limit]
    )
    if not fire_at:
        return None
    token = _lease_end(now)
    Reminder.objects.filter(pk__in=list(fire_at)).update(claimed_until=token)
    return Claim(token, fire_at)


# --- Delivering ----------------------------------------------------------------------------------------
@dataclass
class DeliveryReport:
    reminders_sent: int = 0
    reminders_failed: int = 0
    reminders_waiting: int = 0
    pushes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    more: bool = False  # stopped at its limit with reminders still due

    def merge(self, other: "DeliveryReport") -> None:
        self.reminders_sent += other.reminders_sent
        self.reminders_failed += other.reminders_failed
        self.reminders_waiting += other.reminders_waiting
        for outcome, count in other.pushes.items():
            self.pushes[outcome] += count


def iso_utc(value: datetime | None) -> str | None:
    """RFC 3339 UTC with `Z`, as the task resource writes dates."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reminder_payload(reminder: Reminder) -> bytes:
    """The push message (docs/API.md §7), the same bytes for each of the user's subscriptions."""
    task = reminder.task
    return orjson.dumps(
        {
            "type": "reminder",
            "task": {"id": task.pk, "title": task.title, "due_date": iso_utc(task.due_date)},
            "fire_at": iso_utc(reminder.fire_at),
        }
    )


def _retry_at(now: datetime, attempts: int, retry_after: int | None) -> datetime:
    delay = RETRY_DELAYS_SECONDS[min(attempts, len(RETRY_DELAYS_SECONDS)) - 1]
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return now + timedelta(seconds=delay)


def _record_first_attempts(reminders: Sequence[Reminder], now: datetime) -> None:
    """Delivery rows for reminders that have none yet: one per subscription the user has now."""
    started = set(
        ReminderDelivery.objects.filter(reminder__in=reminders)
        .values_list("reminder_id", flat=True)
        .distinct()
    )
    fresh = [reminder for reminder in reminders if reminder.pk not in started]
    if not fresh:
        return
    subscriptions = defaultdict(list)
    for subscription in PushSubscription.objects.filter(user_id__in={r.user_id for r in fresh}).only(
        "pk", "user_id", "endpoint"
    ):
        subscriptions[subscription.user_id].append(subscription)
    ReminderDelivery.objects.bulk_create(
        [
            ReminderDelivery(
                reminder=reminder,
                subscription=subscription,
                endpoint_origin=push.origin(subscription.endpoint)[:300],
            )
            for reminder in fresh
            for subscription in subscriptions[reminder.user_id]
        ],
        ignore_conflicts=True,
    )
    reminders_fell_due(reminders=fresh, now=now)


def reminders_deliver(*, claim: Claim, now: datetime | None = None) -> DeliveryReport:
    """Push the claimed reminders to their users' subscriptions and settle them (module docstring)."""
    now = now or timezone.now()
    report = DeliveryReport()
    with transaction.atomic():
        # Still ours: not settled, re-armed (the task services clear or move the claim) or claimed
        # by another worker after our lease ran out.
        reminders = [
            reminder
            for reminder in Reminder.objects.filter(
                pk__in=claim.reminder_ids, state=ReminderState.PENDING, claimed_until=claim.token
            )
            .select_related("task")
            .order_by()
            # Re-armed since the claim (its task's due date moved): not pushed now; the lease runs
            # out and a scan takes it again at its new time.
            if reminder.fire_at == claim.fire_at[reminder.pk]
        ]
        if not reminders:
            return report
        _record_first_attempts(reminders, now)
    by_id = {reminder.pk: reminder for reminder in reminders}
    deliveries = list(
        ReminderDelivery.objects.filter(reminder__in=reminders, state=DeliveryState.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .select_related("subscription")
    )
    _push_all(deliveries, by_id, now, report)
    _settle(reminders, claim.token, now, report)
    return report


def _push_all(deliveries: list[ReminderDelivery], reminders: dict[int, Reminder], now, report) -> None:
    try:
        vapid_keys()
    except VapidNotConfigured as exc:
        if deliveries:
            logger.error("Web Push is not configured, %d pushes failed: %s", len(deliveries), exc)
    payloads = {pk: reminder_payload(reminder) for pk, reminder in reminders.items()}
    futures = []
    for delivery in deliveries:
        subscription = delivery.subscription
        if subscription is None:  # its user deleted it since the first try
            delivery.state = DeliveryState.GONE
            continue
        futures.append(
            (
                delivery,
                push.pool().submit(
                    push.send,
                    endpoint=subscription.endpoint,
                    p256dh=subscription.p256dh,
                    auth=subscription.auth,
                    payload=payloads[delivery.reminder_id],
                ),
            )
        )
    succeeded, gone = [], []
    for delivery, future in futures:
        result = future.result()
        report.pushes[result.outcome] += 1
        delivery.attempts += 1
        delivery.last_status = result.status
        delivery.last_error = result.error
        delivery.next_attempt_at = None
        if result.outcome == push.Outcome.SENT:
            delivery.state, delivery.sent_at = DeliveryState.SENT, now
            succeeded.append(delivery.subscription_id)
        elif result.outcome == push.Outcome.GONE:
            delivery.state = DeliveryState.GONE
            gone.append(delivery.subscription_id)
        elif result.outcome == push.Outcome.RETRY and delivery.attempts < MAX_ATTEMPTS:
            delivery.next_attempt_at = _retry_at(now, delivery.attempts, result.retry_after_seconds)
        else:
            delivery.state = DeliveryState.FAILED
            logger.warning(
                "Push to %s failed for reminder %s after %d tries: %s",
                delivery.endpoint_origin,
                delivery.reminder_id,
                delivery.attempts,
                result.error,
            )
    with transaction.atomic():
        # Recorded whoever holds the lease now: a push that was sent was sent. One UPDATE per kind
        # of outcome (usually one: all sent), not one per delivery.
        _write_outcomes(deliveries, now)
        if succeeded:
            PushSubscription.objects.filter(pk__in=succeeded).update(last_success_at=now)
        if gone:
            PushSubscription.objects.filter(pk__in=gone).delete()


_OUTCOME_FIELDS = ("state", "attempts", "next_attempt_at", "last_status", "last_error", "sent_at")


def _write_outcomes(deliveries: list[ReminderDelivery], now: datetime) -> None:
    groups: dict[tuple, list[int]] = defaultdict(list)
    for delivery in deliveries:
        groups[tuple(getattr(delivery, name) for name in _OUTCOME_FIELDS)].append(delivery.pk)
    for values, ids in groups.items():
        ReminderDelivery.objects.filter(pk__in=ids).update(
            **dict(zip(_OUTCOME_FIELDS, values, strict=True)), updated_at=now
        )


def _settle(reminders: list[Reminder], token: datetime, now: datetime, report: DeliveryReport) -> None:
    """Each reminder whose deliveries are all final becomes `sent` (at least one push accepted, or
    none failed: no subscriptions, or all gone) or `failed` (every remaining subscription failed);
    the others keep their claim until their next retry."""
    states = defaultdict(set)
    next_try: dict[int, datetime] = {}
    for reminder_id, state, next_at in ReminderDelivery.objects.filter(reminder__in=reminders).values_list(
        "reminder_id", "state", "next_attempt_at"
    ):
        states[reminder_id].add(state)
        if state == DeliveryState.PENDING:
            at = next_at or now
            next_try[reminder_id] = min(next_try.get(reminder_id, at), at)
    sent, failed = [], []
    for reminder in reminders:
        seen = states[reminder.pk]
        if DeliveryState.PENDING in seen:
            continue
        (failed if DeliveryState.FAILED in seen and DeliveryState.SENT not in seen else sent).append(
            reminder.pk
        )
    # Settled only while still ours and as claimed: a reminder re-armed meanwhile (its fire_at moved)
    # or completed (skipped) is left as the task services wrote it.
    fire_at = {reminder.pk: reminder.fire_at for reminder in reminders}
    with transaction.atomic():
        _lock_in_write_order(reminders)
        report.reminders_sent += _settle_as_claimed(sent, fire_at, token, ReminderState.SENT, now)
        report.reminders_failed += _settle_as_claimed(failed, fire_at, token, ReminderState.FAILED, None)
        mine = Q(state=ReminderState.PENDING, claimed_until=token)
        for reminder_id, at in next_try.items():
            report.reminders_waiting += Reminder.objects.filter(mine, pk=reminder_id).update(claimed_until=at)


def _lock_in_write_order(reminders: list[Reminder]) -> None:
    """Settling a reminder re-stamps its task, which takes the owner's change counter (the change
    feed's triggers, docs/SYNC.md). A task write takes its task row, then its counter; so do we, for
    the whole batch and in one order (tasks by id, then counters by user), before writing: two
    workers settling reminders of the same users, or a worker and the API, cannot deadlock."""
    if connection.vendor != "postgresql" or not reminders:
        return  # SQLite serializes writers
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM tasks_task WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            [sorted({r.task_id for r in reminders})],
        )
        cursor.execute(
            "SELECT user_id FROM tasks_taskcount WHERE user_id = ANY(%s) ORDER BY user_id FOR UPDATE",
            [sorted({r.user_id for r in reminders})],
        )


def _settle_as_claimed(ids: list[int], fire_at: dict, token: datetime, state: str, sent_at) -> int:
    """One UPDATE for the reminders `ids`, each only if still pending, still carrying the token and
    still firing when it did: `(id, fire_at) IN (VALUES ...)`, which PostgreSQL and SQLite both
    take (the ORM would build an OR of one condition per reminder, at a high CPU cost)."""
    if not ids:
        return 0
    adapt = connection.ops.adapt_datetimefield_value
    table = Reminder._meta.db_table
    rows = ", ".join(["(%s, %s)"] * len(ids))
    params: list = [state, adapt(sent_at), ReminderState.PENDING, adapt(token)]
    for reminder_id in ids:
        params += [reminder_id, adapt(fire_at[reminder_id])]
    with connection.cursor() as cursor:
        cursor.execute(
            # Only our table's name and placeholders are spliced in; every value is a parameter.
            f"UPDATE {table} SET state = %s, sent_at = %s, claimed_until = NULL"  # noqa: S608
            f" WHERE state = %s AND claimed_until = %s AND (id, fire_at) IN (VALUES {rows})",
            params,
        )
        return cursor.rowcount


def reminders_due_count(*, now: datetime | None = None, cap: int) -> int:
    """How many reminders are due and unclaimed, counting at most `cap` (an index range scan)."""
    # Ordered by fire_at as the claim is, so that PostgreSQL walks `reminder_due` from the oldest
    # (unordered, it would expect many due rows, past reminders being most of the table, and scan
    # the table; the model's own ordering would join and sort the tasks).
    due = Reminder.objects.filter(_due(now or timezone.now())).order_by("fire_at")
    return due.values("pk")[:cap].count()


def _deliver_isolating(claim: Claim, now: datetime | None, report: DeliveryReport) -> None:
    """Deliver a claim; if something unforeseen breaks it, deliver its reminders one by one, and fail
    the one that breaks alone, so that one poisoned reminder never holds up the others (it would
    otherwise come back first in every scan). A database that is away is not poison: it propagates
    and the Celery task retries."""
    try:
        report.merge(reminders_deliver(claim=claim, now=now))
        return
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("Delivering reminders %s failed; trying them one by one", claim.reminder_ids)
    for reminder_id in claim.reminder_ids:
        try:
            report.merge(reminders_deliver(claim=claim.only(reminder_id), now=now))
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            logger.exception("Reminder %s cannot be delivered; marking it failed", reminder_id)
            report.reminders_failed += Reminder.objects.filter(
                pk=reminder_id, state=ReminderState.PENDING, claimed_until=claim.token
            ).update(state=ReminderState.FAILED, claimed_until=None)


def deliver_due_reminders(
    *, now: datetime | None = None, limit: int | None = None, time_budget: float | None = None
) -> DeliveryReport:
    """Claim due reminders a batch at a time and deliver each batch at once, until none is due (or
    `limit` reminders, or `time_budget` seconds, are spent: then `report.more` is True). Claiming
    just before delivering means a claim never waits in a queue while its lease runs out. The
    Celery task runs this on every worker; tests and operators call it directly."""
    report = DeliveryReport()
    deadline = None if time_budget is None else time.monotonic() + time_budget
    claimed = 0
    while True:
        if (limit is not None and claimed >= limit) or (deadline is not None and time.monotonic() > deadline):
            report.more = True
            break
        claim = reminders_claim_due(now=now, limit=DELIVERY_BATCH)
        if claim is None:
            break
        claimed += len(claim.reminder_ids)
        _deliver_isolating(claim, now, report)
    return report
