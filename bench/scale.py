"""The scale data set: a tasks table of 1,000,000 rows, generated inside PostgreSQL in a few statements.

`seed_demo` (the project's seeder) makes the many-user data the scenarios drive; this module tops the
table up to the target size with three measured users (100, 10,000 and 100,000 tasks) and filler
users of 1,000 tasks each. Everything is computed from the row number, so the data is the same on
every run. It goes through SQL rather than the ORM because a million ORM objects would take most of
the benchmark's time budget.
"""

import time

import psycopg

SCALE_USERS = {"scale-100": 100, "scale-10k": 10_000, "scale-100k": 100_000}
FILLER_TASKS_PER_USER = 1_000
TAG_NAMES = ["home", "work", "errands", "urgent", "later", "health", "money", "ideas"]
WORDS = ["Buy", "Call", "Write", "Review", "Fix", "Plan", "Book", "Pay", "Clean", "Read", "Send", "Ship"]
OBJECTS = ["milk", "report", "invoice", "dentist", "tickets", "garden", "taxes", "slides", "car", "email"]


def _secondary_indexes(cur, tables: list[str]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the indexes on `tables` that back no constraint."""
    cur.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        ORDER BY i.indexname
        """,
        [tables],
    )
    return cur.fetchall()


def seed_scale(dsn: str, *, total_tasks: int = 1_000_000, log=print) -> dict:
    """Add the scale users and filler so that tasks_task holds `total_tasks` rows. Idempotent."""
    with psycopg.connect(dsn, autocommit=False) as conn:
        existing = conn.execute("SELECT count(*) FROM tasks_task").fetchone()[0]
        if conn.execute("SELECT 1 FROM accounts_user WHERE id = 'scale-100k'").fetchone():
            log(f"scale data already present ({existing:,} tasks)")
            return {"tasks": existing}
        plan = dict(SCALE_USERS)
        remaining = total_tasks - existing - sum(plan.values())
        fillers = max(0, remaining) // FILLER_TASKS_PER_USER
        for n in range(fillers):
            plan[f"fill-{n:05d}"] = FILLER_TASKS_PER_USER
        last = remaining - fillers * FILLER_TASKS_PER_USER
        if last > 0:
            plan[f"fill-{fillers:05d}"] = last
        with conn.cursor() as cur:
            started = time.perf_counter()
            # Bulk-load settings for this session only: the data is consistent by construction, so
            # the foreign-key triggers are skipped, and the secondary indexes are rebuilt once at the
            # end (the same definitions, read back from the catalogue) instead of updated row by row.
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cur.execute("SET LOCAL synchronous_commit = off")
            cur.execute("SELECT coalesce(max(id), 0) FROM tasks_task")
            first_new_id = cur.fetchone()[0]
            indexes = _secondary_indexes(cur, ["tasks_task", "tasks_task_tags"])
            for name, _definition in indexes:
                cur.execute(f'DROP INDEX "{name}"')
            cur.execute("CREATE TEMP TABLE scale_plan (user_id text PRIMARY KEY, n int) ON COMMIT DROP")
            with cur.copy("COPY scale_plan (user_id, n) FROM STDIN") as copy:
                for user_id, n in plan.items():
                    copy.write_row((user_id, n))
            cur.execute(
                """
                INSERT INTO accounts_user (id, password, email, name, is_active, is_staff, is_superuser,
                                           date_joined)
                SELECT user_id, '!unusable', user_id || '@bench.example', 'Bench ' || user_id, true, false,
                       false, now() - interval '400 days'
                FROM scale_plan
                """
            )
            cur.execute(
                """
                INSERT INTO tasks_tag (user_id, name, key)
                SELECT p.user_id, t.name, t.name FROM scale_plan p CROSS JOIN unnest(%s::text[]) AS t(name)
                """,
                [TAG_NAMES],
            )
            log(f"  users and tags: {time.perf_counter() - started:.1f} s")
            # Per user: created one a minute going back from now, a quarter completed, a fifth without a
            # due date, priorities cycling, versions 1-3; row numbers are spread with a multiplier so
            # that the orders by created, due date and priority all differ.
            cur.execute(
                """
                INSERT INTO tasks_task (user_id, title, description, completed, completed_at, priority,
                                        due_date, version, created_at, updated_at)
                SELECT p.user_id,
                       (%(words)s::text[])[1 + (g * 7) %% 12] || ' '
                           || (%(objects)s::text[])[1 + (g * 13) %% 10] || ' #' || g,
                       CASE WHEN g %% 3 = 0 THEN ''
                            ELSE 'Some notes about item ' || g || ', written at length '
                                 || 'so that a row has a realistic width.' END,
                       g %% 4 = 0,
                       CASE WHEN g %% 4 = 0 THEN now() - (g %% 1000) * interval '1 minute' END,
                       (g * 7) %% 4,
                       CASE WHEN g %% 5 = 0 THEN NULL
                            ELSE now() + (((g * 7919) %% 100000) - 30000) * interval '1 minute' END,
                       1 + g %% 3,
                       now() - (p.n - g) * interval '1 minute',
                       now() - (p.n - g) * interval '1 minute' + (g %% 7) * interval '1 second'
                FROM scale_plan p CROSS JOIN LATERAL generate_series(1, p.n) AS g
                """,
                {"words": WORDS, "objects": OBJECTS},
            )
            log(f"  tasks: {time.perf_counter() - started:.1f} s")
            # 0 to 3 tags per task (1.5 on average), chosen from the row id; the three picks of a
            # row never collide (checked for every residue mod 8).
            cur.execute(
                """
                CREATE TEMP TABLE scale_tags ON COMMIT DROP AS
                SELECT tag.user_id, array_position(%(tags)s::text[], tag.name::text) - 1 AS tag_index,
                       tag.id AS tag_id
                FROM tasks_tag tag JOIN scale_plan p ON p.user_id = tag.user_id
                """,
                {"tags": TAG_NAMES},
            )
            cur.execute("ANALYZE scale_plan")
            cur.execute("ANALYZE scale_tags")
            cur.execute(
                """
                INSERT INTO tasks_task_tags (task_id, tag_id)
                SELECT t.id, st.tag_id
                FROM tasks_task t
                CROSS JOIN LATERAL (VALUES (1, t.id %% 8), (2, (t.id * 3 + 1) %% 8), (3, (t.id * 5 + 2) %% 8))
                    AS pick(slot, tag_index)
                JOIN scale_tags st ON st.user_id = t.user_id AND st.tag_index = pick.tag_index
                WHERE pick.slot <= t.id %% 4 AND t.id > %(first)s
                """,
                {"first": first_new_id},
            )
            # The triggers that keep tasks.TaskCount were skipped with the foreign keys: count here.
            cur.execute("SELECT to_regclass('tasks_taskcount') IS NOT NULL")
            if cur.fetchone()[0]:
                cur.execute(
                    """
                    INSERT INTO tasks_taskcount (user_id, total, completed)
                    SELECT t.user_id, count(*), count(*) FILTER (WHERE t.completed)
                    FROM tasks_task t JOIN scale_plan p ON p.user_id = t.user_id GROUP BY t.user_id
                    """
                )
            log(
                f"  rows inserted in {time.perf_counter() - started:.0f} s; rebuilding {len(indexes)} indexes"
            )
            for _name, definition in indexes:
                cur.execute(definition)
        conn.commit()
        total = conn.execute("SELECT count(*) FROM tasks_task").fetchone()[0]
    # VACUUM sets the visibility map (index-only scans for the counts) and ANALYZE the statistics.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) tasks_task")
        conn.execute("VACUUM (ANALYZE) tasks_task_tags")
        conn.execute("VACUUM (ANALYZE) tasks_tag")
        conn.execute("VACUUM (ANALYZE) accounts_user")
    log(f"scale data: {len(plan):,} users added, tasks table now {total:,} rows")
    return {"tasks": total, "users_added": len(plan)}
