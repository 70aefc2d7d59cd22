"""Tasks, the per-user tags on them, and the stored responses of idempotent creates."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from tasks.rules import DESCRIPTION_MAX_LENGTH, TAG_MAX_LENGTH, TITLE_MAX_LENGTH


class Priority(models.IntegerChoices):
    """Stored as a rank so that sorting by priority is sorting by a number."""

    NONE = 0, "none"
    LOW = 1, "low"
    MEDIUM = 2, "medium"
    HIGH = 3, "high"


PRIORITY_BY_NAME = {label: value for value, label in Priority.choices}
PRIORITY_NAMES = dict(Priority.choices)


class Tag(models.Model):
    """A user's tag. It keeps the spelling the user first gave it; `key` is its case-folded identity."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=TAG_MAX_LENGTH)
    key = models.CharField(max_length=TAG_MAX_LENGTH * 3, editable=False)

    class Meta:
        ordering = ["key", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="tag_unique_per_user_ci"),
            models.CheckConstraint(condition=~models.Q(name=""), name="tag_name_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name


class TaskQuerySet(models.QuerySet):
    def owned_by(self, user) -> "TaskQuerySet":
        return self.filter(user=user)

    def pending(self) -> "TaskQuerySet":
        return self.filter(completed=False)

    def completed(self) -> "TaskQuerySet":
        return self.filter(completed=True)

    def overdue(self, now=None) -> "TaskQuerySet":
        return self.filter(completed=False, due_date__lt=now or timezone.now())

    def with_tags(self) -> "TaskQuerySet":
        """Tags in one extra query for the whole page, never one per task."""
        return self.prefetch_related(models.Prefetch("tags", queryset=Tag.objects.only("id", "name", "key")))


class Task(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH, blank=True, default="")
    completed = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NONE)
    due_date = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, related_name="tasks", blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Recurrence (docs/API.md §6): a normalised RRULE, the IANA zone it is expanded in, the first
    # due date of the series (every occurrence's dates are the series' own, anchored there), and the
    # occurrence this task spawned when completed (a plain number: it stays if that task is deleted).
    recurrence = models.CharField(max_length=255, null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", db_default="UTC")
    recurrence_anchor = models.DateTimeField(null=True, blank=True, editable=False)
    next_task_id = models.BigIntegerField(null=True, blank=True, editable=False)
    # The change feed's order (docs/SYNC.md): the owner's change number of the last write to this
    # task, set by database triggers in the writing transaction (migration 0006) from the owner's
    # counter on TaskCount, whatever wrote it. Whatever value a writer sends is overwritten.
    change_seq = models.BigIntegerField(db_default=0, editable=False)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(title=""), name="task_title_not_blank"),
            models.CheckConstraint(
                condition=models.Q(priority__gte=Priority.NONE, priority__lte=Priority.HIGH),
                name="task_priority_in_range",
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="task_version_positive"),
        ]
        # Every list query filters by user, then sorts by one of these with `id` as the tie-break
        # (see docs/EXPLAIN.md for the plans these serve).
        indexes = [
            models.Index(fields=["user", "created_at", "id"], name="task_user_created"),
            models.Index(fields=["user", "updated_at", "id"], name="task_user_updated"),
            models.Index(fields=["user", "due_date", "id"], name="task_user_due"),
            models.Index(fields=["user", "priority", "id"], name="task_user_priority"),
            models.Index("user", Lower("title"), "id", name="task_user_title"),
            models.Index(fields=["user", "completed", "created_at", "id"], name="task_user_status_created"),
            # The change feed: one range scan from a token's position (docs/SYNC.md).
            models.Index(fields=["user", "change_seq", "id"], name="task_user_change_seq"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def etag(self) -> str:
        """A strong validator: it changes exactly when `version` does."""
        return f'"{self.version}"'


class TaskCount(models.Model):
    """How many tasks a user has and how many of them are completed, kept by database triggers on
    tasks_task (migration 0002) whatever writes the tasks: the API, the admin, a bulk insert or a
    cascade. An unfiltered list's X-Total-Count reads this row instead of counting every task."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    total = models.BigIntegerField(default=0)
    completed = models.BigIntegerField(default=0)
    # Moves on every change to the user's tasks (migration 0003): the list's weak ETag.
    revision = models.BigIntegerField(db_default=0)
    # The user's change counter (migration 0006): every transaction that writes the user's tasks
    # (or their reminders) takes the next number here, holding this row's lock until it commits, so
    # the user's change numbers become visible in order (docs/SYNC.md).
    change_seq = models.BigIntegerField(db_default=0)
    # Set by the webhooks service (tasks.services.task_events_enable): while on, the triggers also
    # write TaskEvent rows; users without webhooks pay nothing for the outbox.
    webhooks_active = models.BooleanField(db_default=False)
    # The highest change number whose tombstone may have been purged: a sync token before it is 410.
    tombstones_purged_through = models.BigIntegerField(db_default=0)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.total} tasks, {self.completed} completed"


class TaskTombstone(models.Model):
    """A deleted task (or one moved to another user), kept SYNC_TOMBSTONE_DAYS for the change feed.
    Written by the delete trigger; `user` has no foreign key constraint, so that the rows written
    while a user is deleted do not hold up the deletion (the TaskCount delete trigger removes them)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # the composite indexes below lead with it
        related_name="+",
    )
    task_id = models.BigIntegerField()
    change_seq = models.BigIntegerField()
    deleted_at = models.DateTimeField()

    class Meta:
        constraints = [
            # task_id first: the feed's range scan is then the only index that leads with the user.
            models.UniqueConstraint(fields=["task_id", "user"], name="tombstone_unique_per_user"),
        ]
        indexes = [
            models.Index(fields=["user", "change_seq", "task_id"], name="tombstone_user_change_seq"),
            models.Index(fields=["deleted_at"], name="tombstone_deleted_at"),
        ]

    def __str__(self) -> str:
        return f"task {self.task_id} deleted (change {self.change_seq})"


class TaskEventKind(models.TextChoices):
    CREATED = "task.created"
    UPDATED = "task.updated"
    COMPLETED = "task.completed"
    DELETED = "task.deleted"
    REMINDER_DUE = "reminder.due"


class TaskEvent(models.Model):
    """The webhooks' transactional outbox (docs/ARCHITECTURE.md, "Task events"): one row per
    committed change of a task of a user with an active webhook, written by the same triggers, in
    the same transaction, as the change itself; a write that rolls back leaves none. `reminder.due`
    rows come from the reminder worker (tasks.services.task_event_record). The dispatcher claims rows
    whose `dispatched_at` is null with SKIP LOCKED, never by an id cursor: ids are taken at insert
    and commit out of order."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # the composite indexes below lead with it
        related_name="+",
    )
    task_id = models.BigIntegerField()
    event = models.CharField(max_length=32, choices=TaskEventKind.choices)
    change_seq = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(null=True, blank=True, help_text="Extra data (reminder.due: the reminder).")
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The dispatcher's queue: only rows not yet dispatched are in it.
            models.Index(
                fields=["id"], name="taskevent_pending", condition=models.Q(dispatched_at__isnull=True)
            ),
            models.Index(fields=["user", "id"], name="taskevent_user"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.task_id}"


class IdempotencyKey(models.Model):
    """The stored response of a `POST /tasks/` made with an `Idempotency-Key`, kept 24 hours."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body as parsed JSON.")
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    location = models.CharField(max_length=2048, blank=True)
    etag = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return self.key


class ReminderState(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class Reminder(models.Model):
    """One of a task's reminders (docs/API.md §7): relative to its due date (`before`) or at a fixed
    time (`at`). The database is the source of truth for delivery: the worker's scan picks pending
    rows whose `fire_at` has passed, claims them (`claimed_until`, a lease a dead worker's claim
    outlives), sends, and writes `sent_at` once."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reminders")
    # The owner, kept beside the task so that the admin and delivery need no join to find whose it is.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(help_text="Its place in the task's list, from 0.")
    before = models.CharField(
        max_length=32, blank=True, default="", help_text="Normalised ISO 8601 duration; empty for `at`."
    )
    at = models.DateTimeField(null=True, blank=True)
    fire_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=ReminderState.choices, default=ReminderState.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["task", "position"]
        constraints = [
            models.UniqueConstraint(fields=["task", "position"], name="reminder_unique_position"),
            models.CheckConstraint(
                condition=(models.Q(before="") & models.Q(at__isnull=False))
                | (~models.Q(before="") & models.Q(at__isnull=True)),
                name="reminder_before_xor_at",
            ),
        ]
        indexes = [
            # The due scan: pending reminders by fire_at, and nothing else in the index, so that its
            # size follows the pending reminders, not all of them (docs/EXPLAIN.md).
            models.Index(
                fields=["fire_at"], name="reminder_due", condition=models.Q(state=ReminderState.PENDING)
            ),
            models.Index(fields=["user", "fire_at"], name="reminder_user_fire_at"),
        ]

    def __str__(self) -> str:
        return f"{self.before or self.at} ({self.state})"
