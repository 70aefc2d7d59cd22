"""Every read of tasks and tags. Ownership is enforced here: every query starts from `owned_by`."""

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.core import signing
from django.db.models import Count, F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from tasks.models import Tag, Task, TaskCount, tag_key

CURSOR_SALT = "tasks.list.cursor"
# sort name -> (expression sorted on, whether its values are datetimes)
SORTS = {
    "created": (F("created_at"), True),
    "updated": (F("updated_at"), True),
    "due_date": (F("due_date"), True),
    "priority": (F("priority"), False),
    "title": (Lower("title"), False),
}


class InvalidCursor(ValueError):
    """The cursor was not issued by us for this user and this sort."""


@dataclass(frozen=True)
class TaskListParams:
    status: str = "all"
    priorities: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    search: str = ""
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    updated_since: datetime | None = None
    sort: str = "-created"
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    total: int
    next_cursor: str | None


def with_tag_names(tasks: list[Task]) -> list[Task]:
    """Give each task `tag_names`, read for all of them in one query of plain (task, name) rows.

    prefetch_related would build a related manager and a queryset for every task, which costs
    more than the rest of a 100-task page put together (docs/SERIALIZATION.md).
    """
    names: dict[int, list[str]] = {task.pk: [] for task in tasks}
    if names:
        # Naming the tags' owner (a task's tags are its owner's) lets PostgreSQL hash-join that user's
        # few tags instead of scanning every user's tags (docs/EXPLAIN.md).
        owners = {task.user_id for task in tasks}
        pairs = Task.tags.through.objects.filter(task_id__in=names, tag__user_id__in=owners)
        pairs = pairs.values_list("task_id", "tag__name")
        for task_id, name in pairs:
            names[task_id].append(name)
    for task in tasks:
        task.tag_names = names[task.pk]
    return tasks


def task_get(*, user: User, task_id: int) -> Task:
    # Another user's task is 404, not 403: ids do not leak.
    task = Task.objects.owned_by(user).filter(pk=task_id).first()
    if task is None:
        raise Http404(f"Task {task_id} was not found.")
    return with_tag_names([task])[0]


def _filtered(user: User, params: TaskListParams) -> QuerySet:
    tasks = Task.objects.owned_by(user)
    if params.status == "pending":
        tasks = tasks.pending()
    elif params.status == "completed":
        tasks = tasks.completed()
    if params.priorities:
        tasks = tasks.filter(priority__in=params.priorities)
    for name in dict.fromkeys(tag_key(name) for name in params.tags):
        # One join per tag: the task must carry every one. Naming the tag's owner too (always the
        # task's) lets PostgreSQL find the one tag by its (user, key) index and read only that tag's
        # tasks, instead of joining every user's tag of that name (docs/EXPLAIN.md).
        tasks = tasks.filter(tags__key=name, tags__user=user)
    if params.search:
        # A literal substring, case-insensitive beyond ASCII on both databases: SQLite's LIKE folds
        # only ASCII, while its REGEXP (Python's re) and PostgreSQL's ~* fold Unicode.
        pattern = re.escape(params.search)
        tasks = tasks.filter(Q(title__iregex=pattern) | Q(description__iregex=pattern))
    if params.due_before is not None:
        tasks = tasks.filter(due_date__lt=params.due_before)
    if params.due_after is not None:
        tasks = tasks.filter(due_date__gte=params.due_after)
    if params.overdue is not None:
        now = timezone.now()
        overdue = Q(completed=False, due_date__lt=now)
        tasks = tasks.filter(overdue if params.overdue else ~overdue)
    if params.updated_since is not None:
        tasks = tasks.filter(updated_at__gt=params.updated_since)
    return tasks


def encode_cursor(*, user: User, sort: str, value, last_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return signing.dumps({"u": user.pk, "s": sort, "v": value, "i": last_id}, salt=CURSOR_SALT, compress=True)


def decode_cursor(*, user: User, sort: str, cursor: str) -> tuple[object, int]:
    try:
        payload = signing.loads(cursor, salt=CURSOR_SALT)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise InvalidCursor("The cursor is not valid; start again from the first page.") from error
    if not isinstance(payload, dict) or payload.get("u") != user.pk:
        raise InvalidCursor("The cursor belongs to another listing.")
    if payload.get("s") != sort:
        raise InvalidCursor("The cursor was issued for another sort order.")
    value, last_id = payload.get("v"), payload.get("i")
    # Only we sign cursors, but one signed by an older release may carry other shapes: each value is
    # checked against what this sort compares, so a stale cursor is a 400, never a database error.
    if isinstance(last_id, bool) or not isinstance(last_id, int) or not 0 < last_id < 2**63:
        raise InvalidCursor("The cursor is not valid; start again from the first page.")
    name = sort.lstrip("-")
    if value is not None:
        try:
            if SORTS[name][1]:
                value = datetime.fromisoformat(value)
            elif isinstance(value, bool) or not isinstance(value, str if name == "title" else int):
                raise TypeError(value)
        except (TypeError, ValueError):
            raise InvalidCursor("The cursor is not valid; start again from the first page.") from None
    return value, last_id


def _after(expression, descending: bool, value, last_id: int, nullable: bool) -> Q:
    """Rows strictly after (value, last_id) in the sort order; NULLs sort last either way.

    A row comparison, `(key, id) < (value, last_id)`, which PostgreSQL turns into one range of
    the (user, key, id) index, so a deep page costs what the first page does (docs/EXPLAIN.md).
    """
    beyond = "lt" if descending else "gt"
    if value is None:  # already among the NULLs at the end
        return Q(sort_key__isnull=True, **{f"id__{beyond}": last_id})
    compare = TupleLessThan if descending else TupleGreaterThan
    condition = Q(compare(Tuple(expression, F("id")), (value, last_id)))
    return condition | Q(sort_key__isnull=True) if nullable else condition


# The parameters that choose a page, not which tasks match: they do not change the total.
_PAGING = {"sort": "-created", "limit": 100, "cursor": None}


def _total(user: User, params: TaskListParams, tasks: QuerySet) -> int:
    """The number of tasks matching the filters: one row of TaskCount when only `status` filters
    (so a user's default list costs the same at 100 and at 100,000 tasks), else a COUNT."""
    if replace(params, status="all", **_PAGING) != TaskListParams():
        return tasks.count()
    counts = TaskCount.objects.filter(user=user).values_list("total", "completed").first()
    total, completed = counts or (0, 0)
    return {"all": total, "pending": total - completed, "completed": completed}[params.status]


def task_list(*, user: User, params: TaskListParams) -> TaskPage:
    """One page of the user's tasks matching `params`, in keyset order, with the total count."""
    tasks = _filtered(user, params)
    total = _total(user, params, tasks)

    descending = params.sort.startswith("-")
    sort_name = params.sort.lstrip("-")
    expression = SORTS[sort_name][0]
    nullable = sort_name == "due_date"
    tasks = tasks.annotate(sort_key=expression)
    if params.cursor:
        value, last_id = decode_cursor(user=user, sort=params.sort, cursor=params.cursor)
        tasks = tasks.filter(_after(expression, descending, value, last_id, nullable))
    # NULLS LAST only where NULLs exist: on a NOT NULL column it would stop PostgreSQL from reading
    # the index backwards and make it sort every one of the user's tasks for each page.
    nulls_last = True if nullable else None
    key = (
        F("sort_key").desc(nulls_last=nulls_last) if descending else F("sort_key").asc(nulls_last=nulls_last)
    )
    tie = F("id").desc() if descending else F("id").asc()
    rows = list(tasks.order_by(key, tie)[: params.limit + 1])

    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = encode_cursor(user=user, sort=params.sort, value=last.sort_key, last_id=last.pk)
    return TaskPage(with_tag_names(rows), total, next_cursor)


def task_stats(*, user: User) -> dict[str, int]:
    now = timezone.now()
    counts = Task.objects.owned_by(user).aggregate(
        n_total=Count("id"),
        n_completed=Count("id", filter=Q(completed=True)),
        n_overdue=Count("id", filter=Q(completed=False, due_date__lt=now)),
    )
    return {
        "total": counts["n_total"],
        "completed": counts["n_completed"],
        "pending": counts["n_total"] - counts["n_completed"],
        "overdue": counts["n_overdue"],
    }


def tag_list(*, user: User) -> list[dict]:
    """The user's tags on at least one task (any status), sorted case-insensitively."""
    tags = (
        Tag.objects.filter(user=user)
        .annotate(task_count=Count("tasks"))
        .filter(task_count__gt=0)
        .order_by("key", "id")
        .values("name", "task_count")
    )
    return list(tags)
