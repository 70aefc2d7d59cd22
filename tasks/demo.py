"""Deterministic demo users, tags and tasks for `seed_demo`, written with bulk inserts in batches.

Everything random is drawn from one `random.Random(seed)`, so a seed gives the same users (ids,
names, emails), tags and tasks every time. Dates are offsets from midnight UTC of the day the
command runs, so that due dates stay spread around "today" (some overdue, some due this week).
"""

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import USER_ID_ALPHABET, User
from tasks.demo_vocabulary import (
    CITIES,
    DESCRIPTION_SENTENCES,
    FIRST_NAMES,
    LAST_NAMES,
    TAG_VOCABULARY,
    THINGS,
    TOPICS,
    VERBS_AND_OBJECTS,
)
from tasks.models import Priority, Tag, Task
from tasks.rules import tag_key

TaskThrough = Task.tags.through

PRIORITIES = [int(value) for value in Priority.values]
DUE_HOURS = [9, 12, 17, 23]
# Cumulative weights of none / low / medium / high (40, 25, 22, 13 %).
PRIORITY_CUM_WEIGHTS = [40, 65, 87, 100]
TAGS_PER_TASK = [0, 1, 2, 3]
TAGS_PER_TASK_CUM_WEIGHTS = [30, 70, 90, 100]


@dataclass
class SeedResult:
    user_ids: list[str]
    tags: int
    tasks: int
    task_tags: int


def user_ids_for_seed(seed: int, count: int) -> list[str]:
    """The ids `seed_demo` gives its users: 32 alphanumerics, like Better Auth's, fixed by the seed."""
    rng = random.Random(f"users:{seed}")  # noqa: S311 -- reproducible by design
    return ["".join(rng.choices(USER_ID_ALPHABET, k=32)) for _ in range(count)]


_PLACEHOLDERS = {
    "person": FIRST_NAMES,
    "topic": TOPICS,
    "thing": THINGS,
    "city": CITIES,
    "n": [str(n) for n in range(2, 13)],
}


def _fill(template: str, rng: random.Random) -> str:
    # Draw only for the placeholders the template has: this runs a few million times for 1M tasks.
    if "{" not in template:
        return template
    return template.format_map(
        {name: rng.choice(words) for name, words in _PLACEHOLDERS.items() if "{" + name + "}" in template}
    )


def _title(rng: random.Random) -> str:
    verb, objects = rng.choice(VERBS_AND_OBJECTS)
    return f"{verb} {_fill(rng.choice(objects), rng)}"


def _description(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return ""
    return " ".join(_fill(rng.choice(DESCRIPTION_SENTENCES), rng) for _ in range(rng.randint(1, 3)))


class DemoSeeder:
    """Builds the rows; `run` writes them in batches, each batch in its own transaction."""

    def __init__(self, *, users: int, tasks_per_user: int, seed: int, batch_size: int, anchor: datetime):
        self.users, self.tasks_per_user, self.seed = users, tasks_per_user, seed
        self.batch_size = batch_size
        self.anchor = anchor
        self.rng = random.Random(f"data:{seed}")  # noqa: S311 -- reproducible by design

    def _users(self, user_ids: list[str]) -> list[User]:
        rng = random.Random(f"profiles:{self.seed}")  # noqa: S311 -- reproducible by design
        # One hash computed once: an unusable password ("!" prefix) means Better Auth sign-in only.
        unusable = make_password(None)
        users = []
        for index, user_id in enumerate(user_ids):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            users.append(
                User(
                    id=user_id,
                    email=f"{first}.{last}.{self.seed}.{index}@example.com".lower(),
                    name=f"{first} {last}",
                    password=unusable,
                    date_joined=self.anchor
                    - timedelta(days=rng.randint(366, 900), seconds=rng.randint(0, 86399)),
                )
            )
        return users

    def _tags_for(self, user: User) -> list[Tag]:
        names = self.rng.sample(TAG_VOCABULARY, self.rng.randint(3, 8))
        return [Tag(user_id=user.pk, name=name, key=tag_key(name)) for name in names]

    def _task(self, user_id: str) -> tuple:
        """One task's values in TASK_COLUMNS order (plain tuples: a million model instances cost)."""
        rng, anchor = self.rng, self.anchor
        created = anchor - timedelta(days=rng.randint(0, 364), seconds=rng.randint(0, 86399))
        due = None
        if rng.random() >= 0.3:
            # Spread around today: about a third overdue, the rest upcoming, mostly within weeks.
            due = anchor + timedelta(days=rng.randint(-45, 90), hours=rng.choice(DUE_HOURS))
        completed = rng.random() < (0.6 if due is not None and due < anchor else 0.25)
        completed_at = None
        updated = created
        version = 1
        if completed:
            completed_at = created + (anchor - created) * rng.random()
            updated = completed_at
            version = 2
        elif rng.random() < 0.3:
            updated = created + (anchor - created) * rng.random()
            version = rng.randint(2, 4)
        priority = rng.choices(PRIORITIES, cum_weights=PRIORITY_CUM_WEIGHTS)[0]
        return (
            user_id,
            _title(rng),
            _description(rng),
            completed,
            completed_at,
            priority,
            due,
            version,
            created,
            updated,
        )

    def _batches(
        self, users: list[User]
    ) -> Iterator[tuple[list[User], list[Tag], list[tuple], list[list[Tag]]]]:
        """Groups of whole users whose tasks add up to about `batch_size`: users, tags, task rows and
        each task's tags."""
        batch_users: list[User] = []
        batch_tags: list[Tag] = []
        rows: list[tuple] = []
        row_tags: list[list[Tag]] = []
        for user in users:
            vocabulary = self._tags_for(user)
            batch_users.append(user)
            batch_tags += vocabulary
            for _ in range(self.tasks_per_user):
                rows.append(self._task(user.pk))
                how_many = self.rng.choices(TAGS_PER_TASK, cum_weights=TAGS_PER_TASK_CUM_WEIGHTS)[0]
                row_tags.append(self.rng.sample(vocabulary, min(how_many, len(vocabulary))))
                if len(rows) >= self.batch_size:
                    yield batch_users, batch_tags, rows, row_tags
                    batch_users, batch_tags, rows, row_tags = [], [], [], []
        if batch_users or rows:
            yield batch_users, batch_tags, rows, row_tags

    def run(self, *, dry_run: bool, on_batch: Callable[[int, int], None]) -> SeedResult:
        """Write (or with `dry_run` only count) the data; `on_batch(users, tasks)` after each batch."""
        user_ids = user_ids_for_seed(self.seed, self.users)
        result = SeedResult(user_ids=user_ids, tags=0, tasks=0, task_tags=0)
        insert_tasks = _copy_tasks if connection.vendor == "postgresql" else _bulk_create_tasks
        for users, tags, rows, row_tags in self._batches(self._users(user_ids)):
            if not dry_run:
                with transaction.atomic():
                    User.objects.bulk_create(users)
                    # Ids come back from the INSERT (RETURNING on PostgreSQL and SQLite >= 3.35).
                    Tag.objects.bulk_create(tags)
                    task_ids = insert_tasks(rows)
                    links = [
                        (task_id, tag.pk)
                        for task_id, tags_of in zip(task_ids, row_tags, strict=True)
                        for tag in tags_of
                    ]
                    if connection.vendor == "postgresql":
                        _copy(TaskThrough._meta.db_table, ["task_id", "tag_id"], links)
                    else:
                        TaskThrough.objects.bulk_create(
                            [TaskThrough(task_id=task_id, tag_id=tag_id) for task_id, tag_id in links]
                        )
            result.tags += len(tags)
            result.tasks += len(rows)
            result.task_tags += sum(len(tags_of) for tags_of in row_tags)
            on_batch(len(users), len(rows))
        return result


TASK_COLUMNS = [
    "user_id",
    "title",
    "description",
    "completed",
    "completed_at",
    "priority",
    "due_date",
    "version",
    "created_at",
    "updated_at",
]


def _bulk_create_tasks(rows: list[tuple]) -> list[int]:
    tasks = [Task(**dict(zip(TASK_COLUMNS, row, strict=True))) for row in rows]
    Task.objects.bulk_create(tasks)
    return [task.pk for task in tasks]


def _copy(table: str, columns: list[str], rows: list[tuple]) -> None:
    """PostgreSQL COPY FROM STDIN: several times faster than a multi-row INSERT for large batches."""
    if not rows:
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        sql = f"COPY {quote(table)} ({', '.join(quote(column) for column in columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


def _copy_tasks(rows: list[tuple]) -> list[int]:
    """COPY has no RETURNING, so the ids are taken from the table's sequence first."""
    if not rows:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Task._meta.db_table, len(rows)],
        )
        task_ids = [task_id for (task_id,) in cursor.fetchall()]
    _copy(
        Task._meta.db_table,
        ["id", *TASK_COLUMNS],
        [(task_id, *row) for task_id, row in zip(task_ids, rows, strict=True)],
    )
    return task_ids


def anchor_now() -> datetime:
    """Midnight UTC today: every seeded date is an offset from it."""
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
