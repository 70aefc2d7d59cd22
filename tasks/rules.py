"""The rules a task's fields obey, whichever way they come in: the API, the admin, an import.

Plain functions over plain values, raising Django's ValidationError with a message fit for the
user; each entry point words its own errors around them (a problem+json body, a form error, a
line of the import report). Also the two write rules every ORM update path shares: `completed`
and `completed_at` move together, and any change bumps `version` and `updated_at`.
"""

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 1000
TAG_MAX_LENGTH = 50
MAX_TAGS_PER_TASK = 20

# A description may hold line breaks and tabs; no other field may hold any control character.
DESCRIPTION_CONTROLS_ALLOWED = frozenset("\t\n\r")
CONTROL_CHARACTERS_REFUSED = "Control characters are not allowed."


# Unicode category Cc is exactly U+0000-U+001F and U+007F-U+009F; a regex finds one in C.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_LINE_BREAKS_AND_TABS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(value: str, allowed: frozenset[str] = frozenset()) -> bool:
    if not allowed:
        return _CONTROLS.search(value) is not None
    if allowed == DESCRIPTION_CONTROLS_ALLOWED:
        return _CONTROLS_BUT_LINE_BREAKS_AND_TABS.search(value) is not None
    return any(unicodedata.category(char) == "Cc" and char not in allowed for char in value)


def refuse_control_characters(value: str, allowed: frozenset[str] = frozenset()) -> str:
    if has_control_characters(value, allowed):
        raise ValidationError(CONTROL_CHARACTERS_REFUSED, code="invalid")
    return value


def _text(value: object, *, max_length: int, trim: bool, allow_blank: bool, allowed=frozenset()) -> str:
    if not isinstance(value, str):
        raise ValidationError("Must be a string.", code="invalid")
    if trim:
        value = value.strip()
    if not value and not allow_blank:
        raise ValidationError("This field may not be blank.", code="blank")
    if len(value) > max_length:
        message = f"Ensure this field has no more than {max_length} characters."
        raise ValidationError(message, code="max_length")
    return refuse_control_characters(value, allowed)


def clean_title(value: object) -> str:
    """Trimmed, 1-200 characters, no control character."""
    return _text(value, max_length=TITLE_MAX_LENGTH, trim=True, allow_blank=False)


def clean_description(value: object) -> str:
    """Kept as typed (not trimmed), at most 1000 characters; tabs and line breaks allowed."""
    return _text(
        value,
        max_length=DESCRIPTION_MAX_LENGTH,
        trim=False,
        allow_blank=True,
        allowed=DESCRIPTION_CONTROLS_ALLOWED,
    )


def clean_tag_name(value: object) -> str:
    """Trimmed, 1-50 characters, no control character."""
    return _text(value, max_length=TAG_MAX_LENGTH, trim=True, allow_blank=False)


def too_many_tags(count: int) -> str:
    return f"A task has at most {MAX_TAGS_PER_TASK} tags (got {count})."


def clean_tag_names(names: Iterable[object]) -> list[str]:
    """Each name cleaned, case-insensitive duplicates merged (first spelling wins), at most 20."""
    merged = merge_tag_names(clean_tag_name(name) for name in names)
    if len(merged) > MAX_TAGS_PER_TASK:
        raise ValidationError(too_many_tags(len(merged)), code="max_length")
    return merged


def tag_key(name: str) -> str:
    """The identity of a tag within a user's tags: names equal case-insensitively are one tag."""
    return name.casefold()


def merge_tag_names(names: Iterable[str]) -> list[str]:
    """Names in the order given, each case-insensitive duplicate dropped (the first spelling wins)."""
    merged: dict[str, str] = {}
    for name in names:
        merged.setdefault(tag_key(name), name)
    return list(merged.values())


# --- Write rules of the ORM update paths ----------------------------------------------------------
# The hand-written statements of tasks/sql.py apply the same two rules in SQL.
def completion(completed: bool, now: datetime) -> dict:
    """The fields that set `completed`: `completed_at` is when it became true, else null."""
    return {"completed": completed, "completed_at": now if completed else None}


def bumped(now: datetime | None = None) -> dict:
    """The fields every change to a task also writes: a new version, and the time of the change."""
    return {"version": F("version") + 1, "updated_at": now or timezone.now()}
