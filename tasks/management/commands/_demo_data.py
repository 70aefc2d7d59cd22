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
from django.db import transaction
from django.utils import timezone

from accounts.models import USER_ID_ALPHABET, User
from tasks.models import Priority, Tag, Task, tag_key

TaskThrough = Task.tags.through

FIRST_NAMES = [
    "Alice",
    "Amara",
    "Ben",
    "Carlos",
    "Chloe",
    "Dev",
    "Elena",
    "Farah",
    "Felix",
    "Grace",
    "Hana",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Liam",
    "Maya",
    "Mateo",
    "Nadia",
    "Noah",
    "Olga",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Sofia",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zoe",
]
LAST_NAMES = [
    "Andersen",
    "Baptiste",
    "Chen",
    "Diallo",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Laurent",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quispe",
    "Rossi",
    "Santos",
    "Tanaka",
    "Ueda",
    "Varga",
    "Wagner",
    "Xu",
    "Yilmaz",
    "Zimmermann",
]
TAG_VOCABULARY = [
    "work",
    "home",
    "errands",
    "urgent",
    "health",
    "finance",
    "family",
    "travel",
    "reading",
    "shopping",
    "garden",
    "car",
    "school",
    "project-x",
    "project-apollo",
    "meetings",
    "admin",
    "fitness",
    "music",
    "cooking",
    "pets",
    "friends",
    "taxes",
    "side-project",
    "learning",
    "kids",
    "weekend",
    "house",
    "bills",
    "someday",
    "waiting",
]

VERBS_AND_OBJECTS = [
    (
        "Buy",
        [
            "milk and bread",
            "a birthday present for {person}",
            "printer ink",
            "new running shoes",
            "flowers for {person}",
            "groceries for the week",
            "a train ticket to {city}",
        ],
    ),
    (
        "Call",
        [
            "{person} about the {topic}",
            "the dentist",
            "the insurance company",
            "{person} back",
            "the landlord about the heating",
            "the bank about the {topic}",
        ],
    ),
    (
        "Email",
        [
            "{person} the {topic} notes",
            "the team about the {topic}",
            "{person} re: {topic}",
            "support about the broken {thing}",
        ],
    ),
    (
        "Review",
        [
            "the {topic} proposal",
            "{person}'s pull request",
            "the quarterly budget",
            "the {topic} draft",
            "the contract from {person}",
        ],
    ),
    (
        "Fix",
        [
            "the leaking {thing}",
            "the flaky {topic} test",
            "the {thing} in the hallway",
            "the login bug on staging",
            "the bike's back brake",
        ],
    ),
    (
        "Schedule",
        [
            "a meeting with {person}",
            "the car service",
            "a check-up",
            "the {topic} retro",
            "dinner with {person}",
        ],
    ),
    (
        "Prepare",
        [
            "slides for the {topic} review",
            "the tax documents",
            "a packing list for {city}",
            "notes for the {topic} workshop",
            "the agenda for Monday",
        ],
    ),
    (
        "Plan",
        [
            "the trip to {city}",
            "{person}'s birthday party",
            "the {topic} roadmap",
            "meals for next week",
            "the garden for spring",
        ],
    ),
    ("Clean", ["the garage", "the fridge", "out the {thing} drawer", "the windows", "up the inbox"]),
    (
        "Pay",
        [
            "the electricity bill",
            "rent",
            "{person} back for dinner",
            "the {topic} invoice",
            "the parking fine",
        ],
    ),
    ("Read", ["chapter {n} of the book", "the {topic} report", "{person}'s article", "the onboarding guide"]),
    ("Renew", ["the passport", "the gym membership", "the {topic} subscription", "the car insurance"]),
    ("Update", ["the {topic} documentation", "the CV", "the family calendar", "the {thing} firmware"]),
    ("Return", ["the library books", "the {thing} to the store", "{person}'s drill"]),
]
TOPICS = [
    "budget",
    "hiring",
    "launch",
    "migration",
    "onboarding",
    "security",
    "analytics",
    "pricing",
    "roadmap",
    "website",
    "newsletter",
    "conference",
    "mobile-app",
    "billing",
]
THINGS = [
    "tap",
    "lamp",
    "router",
    "washing-machine",
    "dishwasher",
    "doorbell",
    "heater",
    "printer",
    "laptop",
    "bike",
]
CITIES = ["Lisbon", "Berlin", "Kyoto", "Nairobi", "Lima", "Oslo", "Montreal", "Seoul", "Porto", "Vienna"]
DESCRIPTION_SENTENCES = [
    "Do this before the end of the week.",
    "Check with {person} first.",
    "Last time this took about an hour.",
    "The details are in the shared folder.",
    "Needs the receipt from last month.",
    "Remember to bring the documents.",
    "Ask {person} if they can help.",
    "Not urgent, but it keeps slipping.",
    "Follow up if there is no answer by Friday.",
    "Budget: around 50 euros.",
    "See the thread from Tuesday for context.",
    "Blocked until the {topic} decision is made.",
    "Split into smaller steps if it gets big.",
    "Write down what was agreed afterwards.",
]
# Weights of none / low / medium / high.
PRIORITY_WEIGHTS = [40, 25, 22, 13]
TAGS_PER_TASK_WEIGHTS = [30, 40, 20, 10]  # 0, 1, 2 or 3 tags


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


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        person=rng.choice(FIRST_NAMES),
        topic=rng.choice(TOPICS),
        thing=rng.choice(THINGS),
        city=rng.choice(CITIES),
        n=rng.randint(2, 12),
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

    def _task(self, user: User) -> Task:
        rng, anchor = self.rng, self.anchor
        created = anchor - timedelta(days=rng.randint(0, 364), seconds=rng.randint(0, 86399))
        due = None
        if rng.random() >= 0.3:
            # Spread around today: about a third overdue, the rest upcoming, mostly within weeks.
            due = (anchor + timedelta(days=rng.randint(-45, 90), hours=rng.choice([9, 12, 17, 23]))).replace(
                minute=0, second=0, microsecond=0
            )
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
        return Task(
            user_id=user.pk,
            title=_title(rng),
            description=_description(rng),
            completed=completed,
            completed_at=completed_at,
            priority=rng.choices(list(Priority.values), PRIORITY_WEIGHTS)[0],
            due_date=due,
            version=version,
            created_at=created,
            updated_at=updated,
        )

    def _batches(
        self, users: list[User]
    ) -> Iterator[tuple[list[User], list[Tag], list[tuple[Task, list[Tag]]]]]:
        """Groups of whole users whose tasks add up to about `batch_size`, with their tags and tasks."""
        batch_users: list[User] = []
        batch_tags: list[Tag] = []
        batch_tasks: list[tuple[Task, list[Tag]]] = []
        for user in users:
            vocabulary = self._tags_for(user)
            batch_users.append(user)
            batch_tags += vocabulary
            for _ in range(self.tasks_per_user):
                task = self._task(user)
                how_many = self.rng.choices(range(4), TAGS_PER_TASK_WEIGHTS)[0]
                batch_tasks.append((task, self.rng.sample(vocabulary, min(how_many, len(vocabulary)))))
                if len(batch_tasks) >= self.batch_size:
                    yield batch_users, batch_tags, batch_tasks
                    batch_users, batch_tags, batch_tasks = [], [], []
        if batch_users or batch_tasks:
            yield batch_users, batch_tags, batch_tasks

    def run(self, *, dry_run: bool, on_batch: Callable[[int, int], None]) -> SeedResult:
        """Write (or with `dry_run` only count) the data; `on_batch(users, tasks)` after each batch."""
        user_ids = user_ids_for_seed(self.seed, self.users)
        result = SeedResult(user_ids=user_ids, tags=0, tasks=0, task_tags=0)
        for users, tags, tasks in self._batches(self._users(user_ids)):
            if not dry_run:
                with transaction.atomic():
                    User.objects.bulk_create(users)
                    # Ids come back from the INSERT (RETURNING on PostgreSQL and SQLite >= 3.35).
                    Tag.objects.bulk_create(tags)
                    Task.objects.bulk_create([task for task, _ in tasks])
                    TaskThrough.objects.bulk_create(
                        [
                            TaskThrough(task_id=task.pk, tag_id=tag.pk)
                            for task, task_tags in tasks
                            for tag in task_tags
                        ]
                    )
            result.tags += len(tags)
            result.tasks += len(tasks)
            result.task_tags += sum(len(task_tags) for _, task_tags in tasks)
            on_batch(len(users), len(tasks))
        return result


def anchor_now() -> datetime:
    """Midnight UTC today: every seeded date is an offset from it."""
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
