"""HTTP bodies and query parameters of the task routes (docs/API.md §3 and §4)."""

import re
from datetime import UTC, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tasks import recurrence as recurrence_rules
from tasks import reminders as reminder_rules
from tasks import rules, selectors
from tasks.api import plain_input
from tasks.models import PRIORITY_BY_NAME, PRIORITY_NAMES, Task
from tasks.rules import (
    DESCRIPTION_MAX_LENGTH,
    MAX_TAGS_PER_TASK,
    TAG_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    merge_tag_names,
    tag_key,
)
from tasks.selectors import SORT_CHOICES, STATUSES, TaskListParams

_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?P<fraction>\.\d+)?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_utc(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with `Z`, as every date-time in the API is returned."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_rfc3339(value: object) -> datetime:
    """An RFC 3339 date-time that names its offset; raises ValidationError saying what is wrong."""
    if not isinstance(value, str):
        raise serializers.ValidationError(
            "Expected an RFC 3339 date-time string such as 2026-12-01T17:00:00Z."
        )
    text = value.strip()
    if _DATE_ONLY.fullmatch(text):
        raise serializers.ValidationError(
            "A bare date is not enough: give a date-time with an offset, such as 2026-12-01T17:00:00Z."
        )
    match = _RFC3339.fullmatch(text)
    if match is None:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", text):
            raise serializers.ValidationError(
                "The date-time has no offset: add Z or +HH:MM, such as 2026-12-01T17:00:00Z."
            )
        raise serializers.ValidationError(
            "Expected an RFC 3339 date-time with offset, such as 2026-12-01T17:00:00Z."
        )
    fraction = (match["fraction"] or "")[:7]  # Python keeps microseconds; finer digits are dropped
    offset = "+00:00" if match["offset"] in "Zz" else match["offset"]
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}{fraction}{offset}")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise serializers.ValidationError("This date-time does not exist or is out of range.") from None


def choice_errors(choices) -> dict[str, str]:
    """A ChoiceField's message that names the choices; DRF's repeats the input, which may be a
    megabyte long and would come back in the error body twice."""
    return {"invalid_choice": f"Must be one of: {', '.join(choices)}."}


BULK_ACTIONS = ["complete", "reopen", "delete", "delete_completed"]


def _reject_controls(value: str, allowed: frozenset[str] = frozenset()) -> str:
    if rules.has_control_characters(value, allowed):  # the rule of tasks/rules.py, worded for DRF
        raise serializers.ValidationError(rules.CONTROL_CHARACTERS_REFUSED)
    return value


@extend_schema_field(OpenApiTypes.DATETIME)
class RFC3339DateTimeField(serializers.Field):
    default_error_messages = {"null": "This field may not be null."}

    def to_internal_value(self, data):
        return parse_rfc3339(data)

    def to_representation(self, value):
        return iso_utc(value)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: "yes", 1 or "false" are errors, not guesses."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        raise serializers.ValidationError("Must be true or false.")


class TitleField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=TITLE_MAX_LENGTH, trim_whitespace=True, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        return _reject_controls(super().to_internal_value(data))


class DescriptionField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        return _reject_controls(super().to_internal_value(data), rules.DESCRIPTION_CONTROLS_ALLOWED)


class TagNamesField(serializers.ListField):
    """Tag names: each trimmed, 1-50 characters; case-insensitive duplicates merged; at most 20."""

    child = serializers.CharField(max_length=TAG_MAX_LENGTH, trim_whitespace=True)

    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError("Expected a list of tag names.")
        if len(data) > 10 * MAX_TAGS_PER_TASK:  # hopeless lists are refused before any per-item work
            raise serializers.ValidationError(f"A task has at most {MAX_TAGS_PER_TASK} tags.")
        errors = {}
        names = []
        for index, item in enumerate(data):
            try:
                if not isinstance(item, str):
                    raise serializers.ValidationError("Must be a string.")
                names.append(_reject_controls(self.child.run_validation(item)))
            except serializers.ValidationError as error:
                errors[index] = error.detail
        if errors:
            raise serializers.ValidationError(errors)
        names = merge_tag_names(names)
        if len(names) > MAX_TAGS_PER_TASK:
            raise serializers.ValidationError(rules.too_many_tags(len(names)))
        return names


@extend_schema_field({"type": "string", "nullable": True, "example": "FREQ=WEEKLY;BYDAY=MO,WE"})
class RecurrenceField(serializers.Field):
    """An RRULE of the supported subset (tasks/recurrence.py), read back normalised."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_internal_value(self, data):
        try:
            return recurrence_rules.normalize(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages[0]) from None

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "string", "example": "Europe/Berlin"})
class TimezoneField(serializers.Field):
    default_error_messages = {"null": "This field may not be null."}

    def to_internal_value(self, data):
        try:
            return recurrence_rules.clean_timezone(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages[0]) from None

    def to_representation(self, value):
        return value


def parse_reminders(data: object) -> list[reminder_rules.ReminderSpec]:
    """The reminders written: each `{"before": duration}` or `{"at": RFC 3339}`. Other keys (such as
    the read-only `fire_at`, `state`, `sent_at` of a list read back) are ignored. Raises a
    ValidationError listing what is wrong, each message led by the reminder's place."""
    if not isinstance(data, list):
        raise serializers.ValidationError('Expected a list of reminders such as [{"before": "PT15M"}].')
    if len(data) > reminder_rules.MAX_REMINDERS:
        raise serializers.ValidationError(
            f"A task has at most {reminder_rules.MAX_REMINDERS} reminders (got {len(data)})."
        )
    specs, errors = [], []
    for index, item in enumerate(data):
        try:
            specs.append(_reminder(item))
        except (serializers.ValidationError, DjangoValidationError) as error:
            message = error.messages[0] if isinstance(error, DjangoValidationError) else error.detail[0]
            errors.append(f"reminders[{index}]{message}")
    if errors:
        raise serializers.ValidationError(errors)
    return specs


def _reminder(item: object) -> reminder_rules.ReminderSpec:
    if not isinstance(item, dict):
        raise serializers.ValidationError(': Expected an object with "before" or "at".')
    if ("before" in item) == ("at" in item):
        raise serializers.ValidationError(
            ': Give exactly one of "before" (a duration) or "at" (a date-time).'
        )
    if "before" in item:
        try:
            return reminder_rules.ReminderSpec(before=reminder_rules.normalize_before(item["before"]))
        except DjangoValidationError as error:
            raise serializers.ValidationError(f".before: {error.messages[0]}") from None
    try:
        return reminder_rules.ReminderSpec(at=parse_rfc3339(item["at"]))
    except serializers.ValidationError as error:
        raise serializers.ValidationError(f".at: {error.detail[0]}") from None


REMINDER_SCHEMA = {
    "type": "object",
    "properties": {
        "before": {"type": "string", "example": "PT15M", "description": "ISO 8601 duration, PT0S to P30D."},
        "at": {"type": "string", "format": "date-time"},
        "fire_at": {"type": "string", "format": "date-time", "nullable": True, "readOnly": True},
        "state": {"type": "string", "enum": ["pending", "sent", "failed", "skipped"], "readOnly": True},
        "sent_at": {"type": "string", "format": "date-time", "nullable": True, "readOnly": True},
    },
}


@extend_schema_field({"type": "array", "maxItems": reminder_rules.MAX_REMINDERS, "items": REMINDER_SCHEMA})
class RemindersField(serializers.Field):
    def to_internal_value(self, data):
        return parse_reminders(data)

    def to_representation(self, value):
        return value


class TaskWriteSerializer(serializers.Serializer):
    """The writable fields of a task. `title` is required on create and PUT; unknown or read-only
    fields in the body are ignored."""

    title = TitleField()
    description = DescriptionField(required=False)
    completed = StrictBooleanField(required=False)
    priority = serializers.ChoiceField(
        choices=list(PRIORITY_BY_NAME), required=False, error_messages=choice_errors(PRIORITY_BY_NAME)
    )
    due_date = RFC3339DateTimeField(required=False, allow_null=True)
    tags = TagNamesField(required=False)
    recurrence = RecurrenceField(required=False)
    timezone = TimezoneField(required=False)
    reminders = RemindersField(required=False)

    def validate_priority(self, value: str) -> int:
        return PRIORITY_BY_NAME[value]

    @classmethod
    def parse(cls, data, *, partial: bool = False) -> dict:
        """The validated fields of a body. A plainly valid body (every field of the right type,
        within its limits, without control characters) is read directly; anything else goes through
        the serializer, which also words every error. Both give the same result for what the direct
        reading accepts (tests/test_api_write_body.py); building the serializer costs more than the
        database does for a write."""
        fields = plain_input.task_fields(data, partial=partial)
        if fields is not None:
            return fields
        serializer = cls(data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def _tag_names(task: Task) -> list[str]:
    """The names the selectors attached (`with_tag_names`), else the (prefetched) relation."""
    names = getattr(task, "tag_names", None)
    return names if names is not None else [tag.name for tag in task.tags.all()]


class TaskSerializer(serializers.Serializer):
    """A task as the API returns it. Rendering is hand-written (`to_representation`): a page of
    100 tasks is serialized often, and DRF's per-field machinery would dominate the request."""

    id = serializers.IntegerField(read_only=True)
    user_id = serializers.CharField(read_only=True)
    title = serializers.CharField()
    description = serializers.CharField()
    completed = serializers.BooleanField()
    completed_at = serializers.DateTimeField(allow_null=True)
    priority = serializers.ChoiceField(choices=list(PRIORITY_BY_NAME))
    due_date = serializers.DateTimeField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    recurrence = serializers.CharField(allow_null=True)
    timezone = serializers.CharField()
    next_task_id = serializers.IntegerField(allow_null=True)
    reminders = RemindersField()

    def to_representation(self, task: Task) -> dict:
        return task_to_dict(task)


def task_to_dict(task: Task) -> dict:
    """A task instance as the API shows it (the hot reads build the same dict from rows)."""
    return {
        "id": task.pk,
        "user_id": task.user_id,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "completed_at": iso_utc(task.completed_at),
        "priority": PRIORITY_NAMES[task.priority],
        "due_date": iso_utc(task.due_date),
        "tags": sorted(_tag_names(task), key=lambda name: (tag_key(name), name)),
        "version": task.version,
        "created_at": iso_utc(task.created_at),
        "updated_at": iso_utc(task.updated_at),
        "recurrence": task.recurrence,
        "timezone": task.timezone,
        "next_task_id": task.next_task_id,
        "reminders": [_reminder_item(row) for row in _reminder_rows(task)],
    }


def _reminder_rows(task: Task) -> list[reminder_rules.Row]:
    rows = getattr(task, "reminder_rows", None)
    if rows is not None:
        return rows
    return [
        reminder_rules.Row(r.pk, r.before, r.at, r.fire_at, r.state, r.sent_at, r.claimed_until)
        for r in task.reminders.order_by("position")
    ]


def _reminder_item(row: reminder_rules.Row) -> dict:
    item = row.as_item()
    for name in ("at", "fire_at", "sent_at"):
        if name in item:
            item[name] = iso_utc(item[name])
    return item


class CompleteSerializer(serializers.Serializer):
    completed = StrictBooleanField(required=False, help_text="Omit the body to toggle.")


class BulkSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=BULK_ACTIONS, error_messages=choice_errors(BULK_ACTIONS))
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=500,
        required=False,
    )

    def validate(self, attrs):
        if attrs["action"] != "delete_completed" and "ids" not in attrs:
            raise serializers.ValidationError({"ids": ["This field is required for this action."]})
        return attrs


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    affected = serializers.IntegerField()
    missing = serializers.ListField(child=serializers.IntegerField())
    spawned = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the next occurrences that completing spawned."
    )


class OccurrencesQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=50, required=False, default=5)


class OccurrencesSerializer(serializers.Serializer):
    occurrences = serializers.ListField(child=serializers.DateTimeField())


class StatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    pending = serializers.IntegerField()
    overdue = serializers.IntegerField()


class TagCountSerializer(serializers.Serializer):
    name = serializers.CharField()
    task_count = serializers.IntegerField()


@extend_schema_field({"type": "string", "example": "high,medium"})
class CommaSeparatedPriorities(serializers.Field):
    def to_internal_value(self, data: str) -> list[int]:
        names = [name.strip() for name in data.split(",")]
        unknown = [name for name in names if name not in PRIORITY_BY_NAME]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown priority {unknown[0][:50]!r}; use none, low, medium or high (comma-separated)."
            )
        return [PRIORITY_BY_NAME[name] for name in names]


@extend_schema_field(OpenApiTypes.BOOL)
class QueryBooleanField(serializers.Field):
    def to_internal_value(self, data: str) -> bool:
        if data.lower() in {"true", "1"}:
            return True
        if data.lower() in {"false", "0"}:
            return False
        raise serializers.ValidationError("Must be true or false.")


class TaskListQuerySerializer(serializers.Serializer):
    """The query parameters of `GET /tasks/`. Every invalid value is a 400 naming the parameter."""

    status = serializers.ChoiceField(choices=STATUSES, required=False, error_messages=choice_errors(STATUSES))
    priority = CommaSeparatedPriorities(required=False)
    tag = serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX_LENGTH, trim_whitespace=True),
        required=False,
        max_length=MAX_TAGS_PER_TASK,
    )
    search = serializers.CharField(required=False, max_length=200, trim_whitespace=False, allow_blank=True)
    due_before = RFC3339DateTimeField(required=False)
    due_after = RFC3339DateTimeField(required=False)
    overdue = QueryBooleanField(required=False)
    updated_since = RFC3339DateTimeField(required=False)
    sort = serializers.ChoiceField(
        choices=SORT_CHOICES, required=False, error_messages=choice_errors(SORT_CHOICES)
    )
    limit = serializers.IntegerField(min_value=1, max_value=500, required=False)
    cursor = serializers.CharField(required=False, max_length=2048)

    def to_internal_value(self, data):
        # `tag` repeats (?tag=a&tag=b); every other parameter is single-valued.
        values = {name: data.get(name) for name in self.fields if name in data and name != "tag"}
        if "tag" in data:
            values["tag"] = data.getlist("tag") if hasattr(data, "getlist") else data["tag"]
        for name in ("search", "tag"):
            for value in values.get(name, []) if name == "tag" else [values.get(name, "")]:
                if rules.has_control_characters(value):
                    raise serializers.ValidationError({name: [rules.CONTROL_CHARACTERS_REFUSED]})
        return super().to_internal_value(values)

    @classmethod
    def parse(cls, query) -> TaskListParams:
        """The parameters of `query` (a QueryDict). The common, plainly valid ones (limit, sort,
        status, priority, tag, cursor) are read directly; anything else, or any doubtful value, goes
        through the serializer, which also words every error. Both give the same TaskListParams for
        what the direct reading accepts (tests/test_api_list_query.py)."""
        params = plain_input.list_params(query, cls._declared_fields.keys())
        return params if params is not None else cls._parse_with_serializer(query)

    @classmethod
    def _parse_with_serializer(cls, query) -> TaskListParams:
        serializer = cls(data=query)
        serializer.is_valid(raise_exception=True)
        return serializer.to_params()

    def to_params(self) -> TaskListParams:
        data = self.validated_data
        return TaskListParams(
            status=data.get("status", "all"),
            priorities=data.get("priority", []),
            tags=data.get("tag", []),
            search=data.get("search", ""),
            due_before=data.get("due_before"),
            due_after=data.get("due_after"),
            overdue=data.get("overdue"),
            updated_since=data.get("updated_since"),
            sort=data.get("sort", "-created"),
            limit=data.get("limit", 100),
            cursor=data.get("cursor"),
        )


# --- Change feed (docs/API.md §8) -------------------------------------------------------------------
class ChangesQuerySerializer(serializers.Serializer):
    """The query parameters of `GET /tasks/changes/`."""

    since = serializers.CharField(
        required=False,
        max_length=200,
        help_text="`next` of a previous answer; omit it for a snapshot of every task.",
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=selectors.CHANGES_LIMIT_MAX,
        required=False,
        help_text="Changes per page, 1-1000 (default 500).",
    )

    @classmethod
    def parse(cls, user, query) -> tuple[selectors.ChangePosition | None, int]:
        """(position, limit); a bad `since` or `limit` is a 400 naming it."""
        data = cls(data={name: query[name] for name in cls._declared_fields if name in query})
        data.is_valid(raise_exception=True)
        since = data.validated_data.get("since")
        position = None
        if since is not None:
            try:
                position = selectors.decode_sync_token(user=user, token=since)
            except selectors.InvalidSyncToken as error:
                raise serializers.ValidationError({"since": [str(error)]}) from None
        return position, data.validated_data.get("limit", selectors.CHANGES_LIMIT_DEFAULT)


class ChangeSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["upsert", "delete"])
    task = TaskSerializer(required=False, help_text="With `upsert`: the task as it is now.")
    id = serializers.IntegerField(required=False, help_text="With `delete`: the id of the task deleted.")


class ChangesSerializer(serializers.Serializer):
    changes = ChangeSerializer(many=True)
    next = serializers.CharField(help_text="Keep it: `since` of the next request.")
    has_more = serializers.BooleanField(help_text="More changes wait: ask again with `next` now.")
