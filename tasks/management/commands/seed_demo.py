"""manage.py seed_demo: realistic, deterministic demo data in bulk (a million tasks in minutes)."""

import time

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import user_ids_existing
from tasks.demo import DemoSeeder, anchor_now, user_ids_for_seed
from tasks.management.commands._common import Progress

MAX_TOTAL_TASKS = 50_000_000


class Command(BaseCommand):
    help = (
        "Create N demo users with M tasks each: titles, descriptions, priorities, a small tag "
        "vocabulary per user, due dates (past, future, none) and some completed. The same --seed "
        "gives the same data (dates are relative to today). Users get Better Auth-shaped ids and "
        "no password; mint tokens for them with `mint_token` (see --print-user-ids)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, required=True, help="Number of users to create.")
        parser.add_argument("--tasks-per-user", type=int, required=True, help="Tasks for each user.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            help="Tasks per INSERT batch and transaction (default 5000).",
        )
        parser.add_argument(
            "--print-user-ids",
            action="store_true",
            help="Print the created user ids on stdout, one a line (the summary then goes to stderr).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Generate and count, write nothing.")

    def handle(
        self, *, users, tasks_per_user, seed, batch_size, print_user_ids, dry_run, verbosity, **options
    ):
        if users < 1:
            raise CommandError("--users must be at least 1.")
        if tasks_per_user < 0:
            raise CommandError("--tasks-per-user must be 0 or more.")
        if users * tasks_per_user > MAX_TOTAL_TASKS:
            raise CommandError(f"At most {MAX_TOTAL_TASKS} tasks in one run.")
        if not 1 <= batch_size <= 50_000:
            raise CommandError("--batch-size must be between 1 and 50000.")
        user_ids = user_ids_for_seed(seed, users)
        existing = user_ids_existing(user_ids=user_ids)
        if existing:
            clash = min(existing)
            raise CommandError(
                f"Users of seed {seed} already exist (e.g. {clash}); use another --seed or purge them first."
            )

        started = time.monotonic()
        total = users * tasks_per_user or users
        # A bar only when it runs long enough to need one: more than one batch.
        progress = Progress(self.stderr, total, "seed_demo", enabled=verbosity >= 1 and total > batch_size)
        seeder = DemoSeeder(
            users=users, tasks_per_user=tasks_per_user, seed=seed, batch_size=batch_size, anchor=anchor_now()
        )
        result = seeder.run(
            dry_run=dry_run,
            on_batch=lambda batch_users, batch_tasks: progress.advance(
                batch_tasks if tasks_per_user else batch_users
            ),
        )
        progress.finish()
        elapsed = time.monotonic() - started

        if print_user_ids:
            for user_id in result.user_ids:
                self.stdout.write(user_id)
        if verbosity:
            verb = "Would create" if dry_run else "Created"
            summary = (
                f"{verb} {len(result.user_ids)} user(s), {result.tags} tag(s), {result.tasks} task(s) "
                f"and {result.task_tags} task tag(s) with seed {seed} in {elapsed:.1f}s."
            )
            (self.stderr if print_user_ids else self.stdout).write(self.style.SUCCESS(summary))
