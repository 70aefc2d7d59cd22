"""`TaskCount.revision`: a number that moves on every change to a user's tasks, by any writer.

The list's weak ETag is made from it (docs/API.md §4), so `If-None-Match` on an unchanged list is
answered from this one row, without reading a task. The triggers of 0002 are replaced by ones that
also bump it: on every insert, delete and update of tasks_task (a title edit too), once per
statement and user on PostgreSQL, once per row on SQLite.
"""

import importlib

from django.db import migrations, models

counts = importlib.import_module("tasks.migrations.0002_task_counts")

POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION tasks_taskcount_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO tasks_taskcount (user_id, total, completed, revision)
        SELECT user_id, count(*), count(*) FILTER (WHERE completed), 1 FROM new_rows GROUP BY user_id
        ON CONFLICT (user_id) DO UPDATE SET total = tasks_taskcount.total + EXCLUDED.total,
                                            completed = tasks_taskcount.completed + EXCLUDED.completed,
                                            revision = tasks_taskcount.revision + 1;
        RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION tasks_taskcount_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE tasks_taskcount c SET total = c.total - d.total, completed = c.completed - d.completed,
                                     revision = c.revision + 1
        FROM (SELECT user_id, count(*) AS total, count(*) FILTER (WHERE completed) AS completed
              FROM old_rows GROUP BY user_id) d
        WHERE c.user_id = d.user_id;
        RETURN NULL;
    END $$
    """,
    # Every updated row moves its owner's revision (and its old owner's, when reassigned); the counts
    # change by what moved between owners or statuses.
    """
    CREATE OR REPLACE FUNCTION tasks_taskcount_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        WITH moves AS (
            SELECT o.user_id AS old_user, o.completed AS old_completed,
                   n.user_id AS new_user, n.completed AS new_completed
            FROM old_rows o JOIN new_rows n ON n.id = o.id
        ), delta AS (
            SELECT user_id, sum(total) AS total, sum(completed) AS completed FROM (
                SELECT old_user AS user_id, -1 AS total, -old_completed::int AS completed FROM moves
                UNION ALL
                SELECT new_user, 1, new_completed::int FROM moves
            ) m GROUP BY user_id
        )
        INSERT INTO tasks_taskcount (user_id, total, completed, revision)
        SELECT user_id, total, completed, 1 FROM delta
        ON CONFLICT (user_id) DO UPDATE SET total = tasks_taskcount.total + EXCLUDED.total,
                                            completed = tasks_taskcount.completed + EXCLUDED.completed,
                                            revision = tasks_taskcount.revision + 1;
        RETURN NULL;
    END $$
    """,
]
SQLITE = [
    """
    CREATE TRIGGER tasks_taskcount_insert AFTER INSERT ON tasks_task BEGIN
        INSERT INTO tasks_taskcount (user_id, total, completed, revision) VALUES (NEW.user_id, 1, NEW.completed, 1)
        ON CONFLICT (user_id) DO UPDATE SET total = total + 1, completed = completed + excluded.completed,
                                            revision = revision + 1;
    END
    """,
    """
    CREATE TRIGGER tasks_taskcount_delete AFTER DELETE ON tasks_task BEGIN
        UPDATE tasks_taskcount SET total = total - 1, completed = completed - OLD.completed,
                                   revision = revision + 1
        WHERE user_id = OLD.user_id;
    END
    """,
    """
    CREATE TRIGGER tasks_taskcount_update AFTER UPDATE ON tasks_task BEGIN
        UPDATE tasks_taskcount SET total = total - 1, completed = completed - OLD.completed,
                                   revision = revision + 1
        WHERE user_id = OLD.user_id;
        INSERT INTO tasks_taskcount (user_id, total, completed, revision) VALUES (NEW.user_id, 1, NEW.completed, 1)
        ON CONFLICT (user_id) DO UPDATE SET total = total + 1, completed = completed + excluded.completed,
                                            revision = revision + 1;
    END
    """,
]


# SQLite rebuilds tasks_taskcount to add the column, and its triggers name that table: they are
# dropped first and made anew after. PostgreSQL replaces its trigger functions in place.
def drop_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        counts._run(schema_editor, counts.SQLITE_REVERSE)


def create_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    counts._run(schema_editor, POSTGRESQL if vendor == "postgresql" else SQLITE)


def restore_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        replace = [s.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION") for s in counts.POSTGRESQL[:3]]
        counts._run(schema_editor, replace)
    else:
        counts._run(schema_editor, counts.SQLITE_REVERSE)


def restore_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        counts._run(schema_editor, counts.SQLITE)


class Migration(migrations.Migration):
    dependencies = [("tasks", "0002_task_counts")]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, restore_sqlite_triggers),
        migrations.AddField(
            model_name="taskcount",
            name="revision",
            field=models.BigIntegerField(db_default=0),
        ),
        migrations.RunPython(create_triggers, restore_triggers),
    ]
