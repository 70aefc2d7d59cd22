"""Reading plainly valid input without building a DRF serializer (docs/PERFORMANCE.md).

Building a serializer costs more than the database does for a write (0.33 ms against 5 us read
here). These readers accept only input that is plainly valid by the task rules (tasks/rules.py) and
return exactly what the serializers would; for anything else they return None, and the serializer
judges it and words every error. Equivalence tests: tests/test_api_list_query.py and
tests/test_api_write_body.py.
"""

from collections.abc import Collection

from django.core.exceptions import ValidationError

from tasks import recurrence as recurrence_rules
from tasks import rules
from tasks.models import PRIORITY_BY_NAME
from tasks.selectors import SORT_CHOICES, STATUSES, TaskListParams

# Why a value below is not taken as it is: the serializer must look at it.
_DOUBTFUL = object()


# --- A task's body ------------------------------------------------------------------------------------
def task_fields(data, *, partial: bool) -> dict | None:
    """TaskWriteSerializer's validated fields for a plainly valid body, else None."""
    if type(data) is not dict or (not partial and "title" not in data):
        return None
    fields: dict = {}
    for name, reader in _BODY_READERS.items():
        if name in data:
            value = reader(data[name])
            if value is _DOUBTFUL:
                return None
            fields[name] = value
    return fields


def _cleaned(clean, value):
    if type(value) is not str:
        return _DOUBTFUL
    try:
        return clean(value)
    except ValidationError:
        return _DOUBTFUL


def _due_date(value):
    from tasks.api.serializers import parse_rfc3339  # the API's reading of RFC 3339

    if value is None:
        return None
    if type(value) is not str:
        return _DOUBTFUL
    try:
        return parse_rfc3339(value)
    except Exception:  # the serializer says what is wrong with it
        return _DOUBTFUL


def _tag_names(value):
    if (
        type(value) is not list
        or len(value) > rules.MAX_TAGS_PER_TASK
        or any(type(v) is not str for v in value)
    ):
        return _DOUBTFUL
    try:
        return rules.clean_tag_names(value)
    except ValidationError:
        return _DOUBTFUL


def _recurrence(value):
    if value is None:
        return None
    if type(value) is not str:
        return _DOUBTFUL
    try:
        return recurrence_rules.normalize(value)
    except ValidationError:
        return _DOUBTFUL


def _timezone(value):
    if type(value) is not str:
        return _DOUBTFUL
    try:
        return recurrence_rules.clean_timezone(value)
    except ValidationError:
        return _DOUBTFUL


def _reminders(value):
    if type(value) is not list:
        return _DOUBTFUL
    if not value:
        return []
    from tasks.api.serializers import parse_reminders  # the API's reading of reminders

    try:
        return parse_reminders(value)
    except Exception:  # the serializer says what is wrong with it
        return _DOUBTFUL


_BODY_READERS = {
    "title": lambda value: _cleaned(rules.clean_title, value),
    "description": lambda value: _cleaned(rules.clean_description, value),
    "completed": lambda value: value if type(value) is bool else _DOUBTFUL,
    "priority": lambda value: (
        PRIORITY_BY_NAME[value] if type(value) is str and value in PRIORITY_BY_NAME else _DOUBTFUL
    ),
    "due_date": _due_date,
    "tags": _tag_names,
    "recurrence": _recurrence,
    "timezone": _timezone,
    "reminders": _reminders,
}


# --- The list's query parameters ------------------------------------------------------------------------
def list_params(query, known: Collection[str]) -> TaskListParams | None:
    """TaskListQuerySerializer's parameters for a plainly valid query (a QueryDict), else None.
    `known` are the parameter names the serializer declares; others are ignored, as there."""
    values = {}
    for name, items in query.lists():
        if name not in known:
            continue
        reader = _QUERY_READERS.get(name)
        if reader is None or (name != "tag" and len(items) != 1):
            return None
        value = reader(items if name == "tag" else items[0])
        if value is _DOUBTFUL:
            return None
        values[name] = value
    return TaskListParams(
        status=values.get("status", "all"),
        priorities=values.get("priority", []),
        tags=values.get("tag", []),
        sort=values.get("sort", "-created"),
        limit=values.get("limit", 100),
        cursor=values.get("cursor"),
    )


def _limit(value: str):
    plain = value.isascii() and value.isdigit() and len(value) <= 3
    return int(value) if plain and 1 <= int(value) <= 500 else _DOUBTFUL


def _tag_filter(values: list[str]):
    tags = [value.strip() for value in values]
    if len(tags) > rules.MAX_TAGS_PER_TASK:
        return _DOUBTFUL
    plain = all(
        0 < len(tag) <= rules.TAG_MAX_LENGTH and not rules.has_control_characters(tag) for tag in tags
    )
    return tags if plain else _DOUBTFUL


def _priorities(value: str):
    names = [name.strip() for name in value.split(",")]
    return (
        [PRIORITY_BY_NAME[name] for name in names] if all(n in PRIORITY_BY_NAME for n in names) else _DOUBTFUL
    )


def _cursor(value: str):
    plain = 0 < len(value) <= 2048 and value == value.strip() and not rules.has_control_characters(value)
    return value if plain else _DOUBTFUL


_QUERY_READERS = {
    "limit": _limit,
    "sort": lambda value: value if value in SORT_CHOICES else _DOUBTFUL,
    "status": lambda value: value if value in STATUSES else _DOUBTFUL,
    "priority": _priorities,
    "tag": _tag_filter,
    "cursor": _cursor,
}
