"""The export file format shared by `export_tasks` and `import_tasks`: JSON lines or CSV.

One task a record with every field, so a round trip is lossless: id, owner, title, description,
completed, completed_at, priority (by name, as the API writes it), due_date, tags (names),
version, created_at, updated_at. Date-times are RFC 3339 in UTC with microseconds; in CSV a null
is an empty cell and the tags are a JSON array (a tag name may contain a comma).
"""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
from django.core.exceptions import ValidationError
from rest_framework import serializers

from accounts.models import USER_ID_PATTERN
from tasks import rules
from tasks.api.serializers import parse_rfc3339
from tasks.models import PRIORITY_BY_NAME, PRIORITY_NAMES, Task
from tasks.operator_jobs import ImportedTask
from tasks.rules import tag_key

FIELDS = [
    "id",
    "user_id",
    "title",
    "description",
    "completed",
    "completed_at",
    "priority",
    "due_date",
    "tags",
    "version",
    "created_at",
    "updated_at",
]
REQUIRED = {"user_id", "title", "created_at", "updated_at"}
FORMATS = ("jsonl", "csv")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def task_record(task: Task) -> dict:
    return {
        "id": task.pk,
        "user_id": task.user_id,
        "title": task.title,
        "description": task.description,
        "completed": task.completed,
        "completed_at": _iso(task.completed_at),
        "priority": PRIORITY_NAMES[task.priority],
        "due_date": _iso(task.due_date),
        "tags": sorted((tag.name for tag in task.tags.all()), key=lambda name: (tag_key(name), name)),
        "version": task.version,
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
    }


# A spreadsheet opening the CSV runs a cell starting with one of these as a formula (formula
# injection: a title "=HYPERLINK(...)" would become a live link, or worse). Such a cell is written
# with a leading apostrophe, which spreadsheets show as text; a cell that already starts with one
# gets another, so that import_tasks can remove exactly one and the round trip stays lossless.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_value(cell):
    """The value csv_cell wrote `cell` for."""
    return cell[1:] if isinstance(cell, str) and cell.startswith("'") else cell


class Writer:
    def __init__(self, stream, file_format: str):
        self.stream, self.format = stream, file_format
        if file_format == "csv":
            self.csv = csv.writer(stream, lineterminator="\n")
            self.csv.writerow(FIELDS)

    def write(self, record: dict) -> None:
        if self.format == "jsonl":
            self.stream.write(orjson.dumps(record).decode() + "\n")
            return
        cells = []
        for field in FIELDS:
            value = record[field]
            if field == "tags":
                value = orjson.dumps(value).decode()
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif value is None:
                value = ""
            cells.append(csv_cell(value))
        self.csv.writerow(cells)


class BadRow(ValueError):
    pass


def _datetime(value, field: str, *, required: bool = False) -> datetime | None:
    if value is None or value == "":
        if required:
            raise BadRow(f"{field} is required.")
        return None
    if not isinstance(value, str):
        raise BadRow(f"{field} must be an ISO 8601 date-time string.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRow(f"{field} is not an ISO 8601 date-time: {value[:40]!r}.") from None
    if parsed.tzinfo is None:
        raise BadRow(f"{field} has no UTC offset: {value[:40]!r}.")
    return parsed.astimezone(UTC)


def _boolean(value, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise BadRow(f"{field} must be true or false.")


def _integer(value, field: str, *, minimum: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise BadRow(f"{field} must be a whole number of at least {minimum}.")
    return value


def _checked(field: str, clean, value):
    try:
        return clean(value)
    except ValidationError as error:
        raise BadRow(f"{field}: {error.messages[0]}") from None


def parse_record(record: object, line: int, *, user_id: str | None) -> ImportedTask:
    """One record as an ImportedTask; raises BadRow saying what is wrong."""
    import re

    if not isinstance(record, dict):
        raise BadRow("a record must be an object.")
    missing = sorted(REQUIRED - record.keys())
    if missing:
        raise BadRow(f"missing field(s): {', '.join(missing)}.")
    owner = user_id or record["user_id"]
    if not isinstance(owner, str) or not re.fullmatch(USER_ID_PATTERN, owner):
        raise BadRow("user_id is not a valid user id.")
    priority = record.get("priority", "none")
    if isinstance(priority, int) and not isinstance(priority, bool) and priority in PRIORITY_NAMES:
        priority = PRIORITY_NAMES[priority]
    tags = record.get("tags") or []
    if isinstance(tags, str):
        try:
            tags = orjson.loads(tags) if tags.strip() else []
        except orjson.JSONDecodeError:
            raise BadRow("tags must be a JSON array of names.") from None
    # The field rules every entry point uses (tasks/rules.py), so a file cannot bring in a task the
    # API would refuse.
    if not isinstance(priority, str) or priority not in PRIORITY_BY_NAME:
        raise BadRow(f"priority: Must be one of: {', '.join(PRIORITY_BY_NAME)}.")
    if not isinstance(tags, list):
        raise BadRow("tags: Expected a list of tag names.")
    due_date = record.get("due_date") or None
    try:
        due_date = None if due_date is None else parse_rfc3339(due_date)
    except serializers.ValidationError as error:
        raise BadRow(f"due_date: {error.detail[0]}") from None
    valid = {
        "title": _checked("title", rules.clean_title, record["title"]),
        "description": _checked("description", rules.clean_description, record.get("description") or ""),
        "priority": PRIORITY_BY_NAME[priority],
        "due_date": due_date,
        "tags": _checked("tags", rules.clean_tag_names, tags),
    }
    task_id = record.get("id")
    return ImportedTask(
        line=line,
        id=None if task_id in (None, "") else _integer(task_id, "id", minimum=1),
        user_id=owner,
        title=valid["title"],
        description=valid["description"],
        completed=_boolean(record.get("completed", False), "completed"),
        completed_at=_datetime(record.get("completed_at"), "completed_at"),
        priority=valid["priority"],
        due_date=valid["due_date"],
        tags=valid["tags"],
        version=_integer(record.get("version", 1), "version", minimum=1),
        created_at=_datetime(record["created_at"], "created_at", required=True),
        updated_at=_datetime(record["updated_at"], "updated_at", required=True),
    )


def read_records(stream: io.TextIOBase, file_format: str) -> Iterator[tuple[int, object]]:
    """(line number, record) pairs; a record that cannot be decoded is a BadRow instance."""
    if file_format == "jsonl":
        for number, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            try:
                yield number, orjson.loads(text)
            except orjson.JSONDecodeError as error:
                yield number, BadRow(f"not valid JSON ({error}).")
        return
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    unknown = sorted(set(header) - set(FIELDS))
    missing = sorted(REQUIRED - set(header))
    if unknown or missing:
        yield 1, BadRow(f"CSV header: unknown column(s) {unknown}, missing column(s) {missing}.")
        return
    for record in reader:
        if None in record:  # more cells than the header has columns
            yield reader.line_num, BadRow("more cells than columns.")
            continue
        yield reader.line_num, {key: csv_value(value) for key, value in record.items()}
