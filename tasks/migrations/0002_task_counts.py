"""Per-user task counts kept by triggers, so that X-Total-Count of an unfiltered list is one row.

PostgreSQL: statement-level triggers with transition tables (a bulk write of 100,000 tasks updates
each user's row once). SQLite: row-level triggers. Both take the count from what changed, so any
writer (API, admin, bulk_create, cascades) keeps it right. The existing tasks are counted once here.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

POSTGRESQL = [
    """
    CREATE FUNCTION tasks_taskcount_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO tasks_taskcount (user_id, total, completed)
        SELECT user_id, count(*), count(*) FILTER (WHERE completed) FROM new_rows GROUP BY user_id
        ON CONFLICT (user_id) DO UPDATE SET total = tasks_taskcount.total + EXCLUDED.total,
                                            completed = tasks_taskcount.completed + EXCLUDED.completed;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION tasks_taskcount_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE tasks_taskcount c SET total = c.total - d.total, completed = c.completed - d.completed
        FROM (SELECT user_id, count(*) AS total, count(*) FILTER (WHERE completed) AS completed
              FROM old_rows GROUP BY user_id) d
        WHERE c.user_id = d.user_id;
        RETURN NULL;
    END $$
    """,
    # Only rows whose owner or status changed touch the counts: editing a title locks nothing more.
    """
    CREATE FUNCTION tasks_taskcount_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        WITH changed AS (
            SELECT o.user_id AS old_user, o.completed AS old_completed,
                   n.user_id AS new_user, n.completed AS new_completed
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.completed <> n.completed OR o.user_id <> n.user_id
        ), delta AS (
            SELECT user_id, sum(total) AS total, sum(completed) AS completed FROM (
                SELECT old_user AS user_id, -1 AS total, -old_completed::int AS completed FROM changed
                UNION ALL
                SELECT new_user, 1, new_completed::int FROM changed
            ) moves GROUP BY user_id
        )
        INSERT INTO tasks_taskcount (user_id, total, completed)
        SELECT user_id, total, completed FROM delta
        ON CONFLICT (user_id) DO UPDATE SET total = tasks_taskcount.total + EXCLUDED.total,
                                            completed = tasks_taskcount.completed + EXCLUDED.completed;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER tasks_taskcount_insert AFTER INSERT ON tasks_task REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_taskcount_on_insert()",
    "CREATE TRIGGER tasks_taskcount_delete AFTER DELETE ON tasks_task REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_taskcount_on_delete()",
    "CREATE TRIGGER tasks_taskcount_update AFTER UPDATE ON tasks_task "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_taskcount_on_update()",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER tasks_taskcount_insert ON tasks_task",
    "DROP TRIGGER tasks_taskcount_delete ON tasks_task",
    "DROP TRIGGER tasks_taskcount_update ON tasks_task",
    "DROP FUNCTION tasks_taskcount_on_insert()",
    "DROP FUNCTION tasks_taskcount_on_delete()",
    "DROP FUNCTION tasks_taskcount_on_update()",
]
SQLITE = [
    """
    CREATE TRIGGER tasks_taskcount_insert AFTER INSERT ON tasks_task BEGIN
        INSERT INTO tasks_taskcount (user_id, total, completed) VALUES (NEW.user_id, 1, NEW.completed)
        ON CONFLICT (user_id) DO UPDATE SET total = total + 1, completed = completed + excluded.completed;
    END
    """,
    """
    CREATE TRIGGER tasks_taskcount_delete AFTER DELETE ON tasks_task BEGIN
        UPDATE tasks_taskcount SET total = total - 1, completed = completed - OLD.completed
        WHERE user_id = OLD.user_id;
    END
    """,
    """
    CREATE TRIGGER tasks_taskcount_update AFTER UPDATE OF completed, user_id ON tasks_task
    WHEN OLD.completed <> NEW.completed OR OLD.user_id <> NEW.user_id BEGIN
        UPDATE tasks_taskcount SET total = total - 1, completed = completed - OLD.completed
        WHERE user_id = OLD.user_id;
        INSERT INTO tasks_taskcount (user_id, total, completed) VALUES (NEW.user_id, 1, NEW.completed)
        ON CONFLICT (user_id) DO UPDATE SET total = total + 1, completed = completed + excluded.completed;
    END
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER tasks_taskcount_insert",
    "DROP TRIGGER tasks_taskcount_delete",
    "DROP TRIGGER tasks_taskcount_update",
]
BACKFILL = (
    "INSERT INTO tasks_taskcount (user_id, total, completed) "
    "SELECT user_id, COUNT(*), SUM(CASE WHEN completed THEN 1 ELSE 0 END) FROM tasks_task GROUP BY user_id"
)


def _run(schema_editor, statements) -> None:
    for statement in statements:
        schema_editor.execute(statement, params=None)


def create_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, POSTGRESQL)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE)
    else:
        raise NotImplementedError(f"Task count triggers are written for PostgreSQL and SQLite, not {vendor}.")
    _run(schema_editor, [BACKFILL])


def drop_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    _run(schema_editor, POSTGRESQL_REVERSE if vendor == "postgresql" else SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TaskCount",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("total", models.BigIntegerField(default=0)),
                ("completed", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
