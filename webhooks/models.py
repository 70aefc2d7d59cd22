"""Webhooks (docs/API.md §9, docs/WEBHOOKS.md): a user's endpoints, the messages owed to each, and
the log of every delivery attempt."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

EVENTS = ("task.created", "task.updated", "task.completed", "task.deleted", "reminder.due")


class WebhookQuerySet(models.QuerySet):
    def owned_by(self, user) -> "WebhookQuerySet":
        return self.filter(user=user)

    def active(self) -> "WebhookQuerySet":
        return self.filter(disabled_at__isnull=True)


class Webhook(models.Model):
    """An endpoint a user asked us to POST events to. The signing secret is kept encrypted
    (webhooks.secrets): staff reading the database or the admin cannot sign as us."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2048)
    events = models.JSONField(help_text="Event names this endpoint receives.")
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    disabled_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when every attempt failed for 24 hours; nothing is sent after."
    )
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last success."
    )
    # A worker delivering this endpoint's messages holds it until lease_until: one worker per
    # endpoint at a time keeps the messages in order and never sends one message twice at once.
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    lease_token = models.CharField(max_length=32, blank=True, editable=False)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "id"], name="webhook_user")]

    def __str__(self) -> str:
        return f"Webhook {self.pk} → {self.url}"


class WebhookMessage(models.Model):
    """One event owed to one webhook: its stable `message_id` (the `webhook-id` header of every
    attempt) and the exact body, built once so that every retry sends the same bytes."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # given up: retries exhausted, or the endpoint was disabled

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(max_length=40, unique=True)
    event = models.CharField(max_length=32)
    # What produced it ("event:<outbox id>", "reminder:<id>:<fire_at>"): a source publishes a
    # message to a webhook once, however often a crashed worker retries it.
    source = models.CharField(max_length=100)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["webhook", "source"], name="webhook_message_source"),
        ]
        indexes = [
            # The worker's scan: pending messages falling due, per endpoint in order.
            models.Index(
                fields=["webhook", "next_attempt_at", "id"],
                name="webhook_message_due",
                condition=Q(state="pending"),
            ),
            models.Index(
                fields=["next_attempt_at"], name="webhook_message_next", condition=Q(state="pending")
            ),
        ]

    def __str__(self) -> str:
        return self.message_id


class WebhookAttempt(models.Model):
    """One delivery attempt, as the deliveries route shows it."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="attempts")
    message_id = models.CharField(max_length=40)
    event = models.CharField(max_length=32)
    attempt = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The deliveries route and the admin's per-webhook list: newest (highest id) first.
        indexes = [models.Index(fields=["webhook", "-id"], name="webhook_attempt_recent")]

    def __str__(self) -> str:
        return f"{self.message_id} #{self.attempt}"
