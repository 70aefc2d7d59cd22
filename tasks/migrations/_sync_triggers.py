"""The change feed's and the webhooks outbox's triggers (migration 0006, docs/SYNC.md).

Kept apart from the migration so that a later migration that makes SQLite rebuild tasks_task,
tasks_taskcount or tasks_reminder (which drops every trigger on them) can drop and re-create them:

    migrations.RunPython(sync_triggers.drop_sqlite, sync_triggers.create_sqlite),
    ... the AddField ...
    migrations.RunPython(sync_triggers.create_sqlite, sync_triggers.drop_sqlite),

On SQLite these triggers replace the count triggers of 0002/0003 (one trigger per event does the
counts, the revision, the change number, the tombstone and the event). On PostgreSQL the
statement-level count triggers of 0003 stay, and these are added beside them.

What every write does, in its own transaction:
- takes the owner's change number: a write to a user's tasks increments `tasks_taskcount.change_seq`
  (which locks that row until commit, so the next writer of the same user waits and takes the next
  number after this one commits); PostgreSQL takes one per statement and user (remembered in a
  transaction-local setting), so that a bulk write of 100,000 rows takes one number, not 100,000
  (updating one row 100,000 times in one transaction costs quadratic time in PostgreSQL);
- stamps it on the task (`tasks_task.change_seq`): BEFORE ROW on PostgreSQL, an UPDATE of the row
  just written on SQLite (which cannot assign NEW);
- on delete, or when a task moves to another user, writes a tombstone for the (old) owner;
- when the owner has `webhooks_active`, writes a `tasks_taskevent` row.
A change to a task's reminders re-stamps the task (`UPDATE ... SET change_seq = change_seq`), which
moves its change number and the list revision: the task's JSON includes its reminders.
"""

TASK_EVENT_COLUMNS = "user_id, task_id, event, change_seq, created_at"
TOMBSTONE_UPSERT = (
    "ON CONFLICT (user_id, task_id) DO UPDATE SET change_seq = EXCLUDED.change_seq, "
    "deleted_at = EXCLUDED.deleted_at"
)

POSTGRESQL = [
    # The change number of this statement for `owner`: taken once per statement and user (cached
    # in a transaction-local setting, which a rolled-back savepoint also rolls back), with the
    # owner's webhook flag. `create_row` false: no number when the user has no count row (being
    # deleted). One number per statement, not per row: a bulk write of 100,000 rows takes one
    # (updating one row 100,000 times in one transaction costs quadratic time in PostgreSQL), and
    # one per statement rather than per transaction, so that even a reader inside the writing
    # transaction (a test's) sees each statement's changes as new.
    """
    CREATE FUNCTION tasks_change_seq(owner varchar, create_row boolean, OUT seq bigint, OUT hooks boolean)
    LANGUAGE plpgsql AS $$
    DECLARE
        cached text := current_setting('tasks.change_seq', true);
        statement text := statement_timestamp()::text;
    BEGIN
        IF cached IS NOT NULL AND cached <> '' AND split_part(cached, '/', 1) = owner
           AND split_part(cached, '/', 4) = statement THEN
            seq := split_part(cached, '/', 2)::bigint;
            hooks := split_part(cached, '/', 3) = 't';
            RETURN;
        END IF;
        UPDATE tasks_taskcount SET change_seq = change_seq + 1 WHERE user_id = owner
        RETURNING change_seq, webhooks_active INTO seq, hooks;
        IF NOT FOUND THEN
            IF NOT create_row THEN
                RETURN;
            END IF;
            INSERT INTO tasks_taskcount AS c (user_id, total, completed, revision, change_seq)
            VALUES (owner, 0, 0, 0, 1)
            ON CONFLICT (user_id) DO UPDATE SET change_seq = c.change_seq + 1
            RETURNING c.change_seq, c.webhooks_active INTO seq, hooks;
        END IF;
        PERFORM set_config('tasks.change_seq',
                           owner || '/' || seq || '/' || CASE WHEN hooks THEN 't' ELSE 'f' END || '/' || statement,
                           true);
    END $$
    """,
    # The number this transaction last took for `owner`, if any (no side effect): a task stamped
    # with it was written by this transaction, which commits it with whatever else it writes.
    """
    CREATE FUNCTION tasks_change_seq_held(owner varchar) RETURNS bigint LANGUAGE sql STABLE AS $$
        SELECT CASE WHEN split_part(s, '/', 1) = owner THEN split_part(s, '/', 2)::bigint END
        FROM (SELECT coalesce(current_setting('tasks.change_seq', true), '') AS s) c
    $$
    """,
    """
    CREATE FUNCTION tasks_task_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        s record;
        kind varchar;
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            NEW.change_seq := OLD.change_seq;
            IF NEW IS NOT DISTINCT FROM OLD THEN
                kind := NULL;  -- re-stamped only (its reminders changed, or a save that changed nothing)
            ELSIF NEW.completed AND NOT OLD.completed THEN
                kind := 'task.completed';
            ELSE
                kind := 'task.updated';
            END IF;
            IF NEW.user_id <> OLD.user_id THEN
                -- Moved to another user: gone for the old owner, new for the new one.
                SELECT * INTO s FROM tasks_change_seq(OLD.user_id, false);
                IF s.seq IS NOT NULL THEN
                    INSERT INTO tasks_tasktombstone (user_id, task_id, change_seq, deleted_at)
                    VALUES (OLD.user_id, OLD.id, s.seq, now())
                    ON CONFLICT (user_id, task_id) DO UPDATE SET change_seq = EXCLUDED.change_seq,
                                                                 deleted_at = EXCLUDED.deleted_at;
                    IF s.hooks THEN
                        INSERT INTO tasks_taskevent (user_id, task_id, event, change_seq, created_at)
                        VALUES (OLD.user_id, OLD.id, 'task.deleted', s.seq, now());
                    END IF;
                END IF;
                DELETE FROM tasks_tasktombstone WHERE user_id = NEW.user_id AND task_id = NEW.id;
                kind := 'task.created';
            END IF;
        ELSE
            kind := 'task.created';
        END IF;
        SELECT * INTO s FROM tasks_change_seq(NEW.user_id, true);
        NEW.change_seq := s.seq;
        IF s.hooks AND kind IS NOT NULL THEN
            INSERT INTO tasks_taskevent (user_id, task_id, event, change_seq, created_at)
            VALUES (NEW.user_id, NEW.id, kind, s.seq, now());
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION tasks_task_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        WITH d AS MATERIALIZED (
            SELECT o.id, o.user_id, s.seq, s.hooks
            FROM old_rows o CROSS JOIN LATERAL tasks_change_seq(o.user_id, false) s
        ), t AS (
            INSERT INTO tasks_tasktombstone (user_id, task_id, change_seq, deleted_at)
            SELECT user_id, id, seq, now() FROM d WHERE seq IS NOT NULL
            ON CONFLICT (user_id, task_id) DO UPDATE SET change_seq = EXCLUDED.change_seq,
                                                         deleted_at = EXCLUDED.deleted_at
        )
        INSERT INTO tasks_taskevent (user_id, task_id, event, change_seq, created_at)
        SELECT user_id, id, 'task.deleted', seq, now() FROM d WHERE hooks;
        RETURN NULL;
    END $$
    """,
    # A reminder written: re-stamp its task, unless this transaction already stamped it (a create or
    # an update with reminders stamps the task itself just before).
    """
    CREATE FUNCTION tasks_reminder_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE tasks_task t SET change_seq = t.change_seq
        WHERE t.id IN (SELECT task_id FROM new_rows)
          AND t.change_seq IS DISTINCT FROM tasks_change_seq_held(t.user_id);
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION tasks_reminder_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE tasks_task t SET change_seq = t.change_seq
        WHERE t.id IN (SELECT task_id FROM old_rows)
          AND t.change_seq IS DISTINCT FROM tasks_change_seq_held(t.user_id);
        RETURN NULL;
    END $$
    """,
    # Only what the task's JSON shows: a worker's claim (`claimed_until`) moves nothing.
    """
    CREATE FUNCTION tasks_reminder_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE tasks_task t SET change_seq = t.change_seq
        WHERE t.id IN (
            SELECT task_id FROM (
                SELECT unnest(ARRAY[o.task_id, n.task_id]) AS task_id
                FROM old_rows o JOIN new_rows n ON n.id = o.id
                WHERE (o.task_id, o.position, o.before, o.at, o.fire_at, o.state, o.sent_at)
                      IS DISTINCT FROM (n.task_id, n.position, n.before, n.at, n.fire_at, n.state, n.sent_at)
            ) moved
        ) AND t.change_seq IS DISTINCT FROM tasks_change_seq_held(t.user_id);
        RETURN NULL;
    END $$
    """,
    # A user's count row goes only with the user: their tombstones and events are of no use to anyone.
    """
    CREATE FUNCTION tasks_taskcount_forget() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM tasks_tasktombstone WHERE user_id IN (SELECT user_id FROM old_rows);
        DELETE FROM tasks_taskevent WHERE user_id IN (SELECT user_id FROM old_rows);
        PERFORM set_config('tasks.change_seq', '', true);
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER tasks_task_stamp BEFORE INSERT OR UPDATE ON tasks_task "
    "FOR EACH ROW EXECUTE FUNCTION tasks_task_stamp()",
    "CREATE TRIGGER tasks_task_tombstone AFTER DELETE ON tasks_task REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_task_tombstone()",
    "CREATE TRIGGER tasks_reminder_inserted AFTER INSERT ON tasks_reminder REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_reminder_inserted()",
    "CREATE TRIGGER tasks_reminder_deleted AFTER DELETE ON tasks_reminder REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_reminder_deleted()",
    "CREATE TRIGGER tasks_reminder_updated AFTER UPDATE ON tasks_reminder "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_reminder_updated()",
    "CREATE TRIGGER tasks_taskcount_forget AFTER DELETE ON tasks_taskcount REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION tasks_taskcount_forget()",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER tasks_task_stamp ON tasks_task",
    "DROP TRIGGER tasks_task_tombstone ON tasks_task",
    "DROP TRIGGER tasks_reminder_inserted ON tasks_reminder",
    "DROP TRIGGER tasks_reminder_deleted ON tasks_reminder",
    "DROP TRIGGER tasks_reminder_updated ON tasks_reminder",
    "DROP TRIGGER tasks_taskcount_forget ON tasks_taskcount",
    "DROP FUNCTION tasks_task_stamp()",
    "DROP FUNCTION tasks_task_tombstone()",
    "DROP FUNCTION tasks_reminder_inserted()",
    "DROP FUNCTION tasks_reminder_deleted()",
    "DROP FUNCTION tasks_reminder_updated()",
    "DROP FUNCTION tasks_taskcount_forget()",
    "DROP FUNCTION tasks_change_seq_held(varchar)",
    "DROP FUNCTION tasks_change_seq(varchar, boolean)",
]

# SQLite: row-level triggers, one per event, doing the counts of 0003 as well. SQLite runs one
# writing transaction at a time, so a number per row is as ordered as a number per transaction.
# The UPDATE that stamps the row fires no trigger again: the update trigger's WHEN skips a row whose
# new change_seq is its owner's latest number and differs from the old one, which only that stamp
# makes (a writer that sends a stale change_seq, as Django's save() does, sends an older number).
_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
_STAMP = (
    "UPDATE tasks_task SET change_seq = (SELECT change_seq FROM tasks_taskcount WHERE user_id = NEW.user_id) "
    "WHERE id = NEW.id;"
)


def sqlite_statements(task_columns) -> list[str]:
    """The SQLite triggers; `task_columns`: tasks_task's columns (a task.updated event is written
    only when one of them other than change_seq changed)."""
    differs = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in task_columns if c != "change_seq")
    return [
        f"""
        CREATE TRIGGER tasks_taskcount_insert AFTER INSERT ON tasks_task BEGIN
            INSERT INTO tasks_taskcount (user_id, total, completed, revision, change_seq)
            VALUES (NEW.user_id, 1, NEW.completed, 1, 1)
            ON CONFLICT (user_id) DO UPDATE SET total = total + 1, completed = completed + excluded.completed,
                                                revision = revision + 1, change_seq = change_seq + 1;
            {_STAMP}
            INSERT INTO tasks_taskevent ({TASK_EVENT_COLUMNS})
            SELECT NEW.user_id, NEW.id, 'task.created', change_seq, {_NOW} FROM tasks_taskcount
            WHERE user_id = NEW.user_id AND webhooks_active;
        END
        """,
        f"""
        CREATE TRIGGER tasks_taskcount_delete AFTER DELETE ON tasks_task BEGIN
            UPDATE tasks_taskcount SET total = total - 1, completed = completed - OLD.completed,
                                       revision = revision + 1, change_seq = change_seq + 1
            WHERE user_id = OLD.user_id;
            INSERT INTO tasks_tasktombstone (user_id, task_id, change_seq, deleted_at)
            SELECT OLD.user_id, OLD.id, change_seq, {_NOW} FROM tasks_taskcount WHERE user_id = OLD.user_id
            {TOMBSTONE_UPSERT};
            INSERT INTO tasks_taskevent ({TASK_EVENT_COLUMNS})
            SELECT OLD.user_id, OLD.id, 'task.deleted', change_seq, {_NOW} FROM tasks_taskcount
            WHERE user_id = OLD.user_id AND webhooks_active;
        END
        """,
        # The common update (same owner): three statements. Its WHEN: see the note above.
        f"""
        CREATE TRIGGER tasks_taskcount_update AFTER UPDATE ON tasks_task
        WHEN OLD.user_id IS NEW.user_id AND (NEW.change_seq IS OLD.change_seq
          OR NEW.change_seq IS NOT (SELECT change_seq FROM tasks_taskcount WHERE user_id = NEW.user_id))
        BEGIN
            UPDATE tasks_taskcount SET completed = completed - OLD.completed + NEW.completed,
                                       revision = revision + 1, change_seq = change_seq + 1
            WHERE user_id = NEW.user_id;
            {_STAMP}
            INSERT INTO tasks_taskevent ({TASK_EVENT_COLUMNS})
            SELECT NEW.user_id, NEW.id,
                   CASE WHEN NEW.completed AND NOT OLD.completed THEN 'task.completed' ELSE 'task.updated' END,
                   change_seq, {_NOW}
            FROM tasks_taskcount WHERE user_id = NEW.user_id AND webhooks_active AND ({differs});
        END
        """,
        # A task moved to another user: gone for the old owner (a tombstone), new for the new one.
        f"""
        CREATE TRIGGER tasks_taskcount_move AFTER UPDATE ON tasks_task
        WHEN OLD.user_id IS NOT NEW.user_id
        BEGIN
            UPDATE tasks_taskcount SET total = total - 1, completed = completed - OLD.completed,
                                       revision = revision + 1, change_seq = change_seq + 1
            WHERE user_id = OLD.user_id;
            INSERT INTO tasks_tasktombstone (user_id, task_id, change_seq, deleted_at)
            SELECT OLD.user_id, OLD.id, change_seq, {_NOW} FROM tasks_taskcount WHERE user_id = OLD.user_id
            {TOMBSTONE_UPSERT};
            INSERT INTO tasks_taskevent ({TASK_EVENT_COLUMNS})
            SELECT OLD.user_id, OLD.id, 'task.deleted', change_seq, {_NOW} FROM tasks_taskcount
            WHERE user_id = OLD.user_id AND webhooks_active;
            DELETE FROM tasks_tasktombstone WHERE user_id = NEW.user_id AND task_id = NEW.id;
            INSERT INTO tasks_taskcount (user_id, total, completed, revision, change_seq)
            VALUES (NEW.user_id, 1, NEW.completed, 1, 1)
            ON CONFLICT (user_id) DO UPDATE SET total = total + 1, completed = completed + excluded.completed,
                                                revision = revision + 1, change_seq = change_seq + 1;
            {_STAMP}
            INSERT INTO tasks_taskevent ({TASK_EVENT_COLUMNS})
            SELECT NEW.user_id, NEW.id, 'task.created', change_seq, {_NOW}
            FROM tasks_taskcount WHERE user_id = NEW.user_id AND webhooks_active;
        END
        """,
        """
        CREATE TRIGGER tasks_reminder_inserted AFTER INSERT ON tasks_reminder BEGIN
            UPDATE tasks_task SET change_seq = change_seq WHERE id = NEW.task_id;
        END
        """,
        """
        CREATE TRIGGER tasks_reminder_deleted AFTER DELETE ON tasks_reminder BEGIN
            UPDATE tasks_task SET change_seq = change_seq WHERE id = OLD.task_id;
        END
        """,
        """
        CREATE TRIGGER tasks_reminder_updated AFTER UPDATE ON tasks_reminder
        WHEN OLD.task_id IS NOT NEW.task_id OR OLD.position IS NOT NEW.position OR OLD.before IS NOT NEW.before
          OR OLD.at IS NOT NEW.at OR OLD.fire_at IS NOT NEW.fire_at OR OLD.state IS NOT NEW.state
          OR OLD.sent_at IS NOT NEW.sent_at
        BEGIN
            UPDATE tasks_task SET change_seq = change_seq WHERE id IN (OLD.task_id, NEW.task_id);
        END
        """,
        """
        CREATE TRIGGER tasks_taskcount_forget AFTER DELETE ON tasks_taskcount BEGIN
            DELETE FROM tasks_tasktombstone WHERE user_id = OLD.user_id;
            DELETE FROM tasks_taskevent WHERE user_id = OLD.user_id;
        END
        """,
    ]


SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS tasks_taskcount_insert",
    "DROP TRIGGER IF EXISTS tasks_taskcount_delete",
    "DROP TRIGGER IF EXISTS tasks_taskcount_update",
    "DROP TRIGGER IF EXISTS tasks_taskcount_move",
    "DROP TRIGGER IF EXISTS tasks_reminder_inserted",
    "DROP TRIGGER IF EXISTS tasks_reminder_deleted",
    "DROP TRIGGER IF EXISTS tasks_reminder_updated",
    "DROP TRIGGER IF EXISTS tasks_taskcount_forget",
]


def _run(schema_editor, statements) -> None:
    for statement in statements:
        schema_editor.execute(statement, params=None)


def _task_columns(apps) -> list[str]:
    return [field.column for field in apps.get_model("tasks", "Task")._meta.concrete_fields]


def drop_sqlite(apps, schema_editor) -> None:
    """Before a table rebuild on SQLite: drop every trigger on tasks_task, tasks_taskcount, tasks_reminder."""
    if schema_editor.connection.vendor == "sqlite":
        _run(schema_editor, SQLITE_REVERSE)


def create_sqlite(apps, schema_editor) -> None:
    """After a table rebuild on SQLite: make them anew (from the task columns of that migration's state)."""
    if schema_editor.connection.vendor == "sqlite":
        _run(schema_editor, sqlite_statements(_task_columns(apps)))


def create(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, POSTGRESQL)
    elif vendor == "sqlite":
        _run(schema_editor, sqlite_statements(_task_columns(apps)))
    else:
        raise NotImplementedError(
            f"The change feed's triggers are written for PostgreSQL and SQLite, not {vendor}."
        )


def drop(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    _run(schema_editor, POSTGRESQL_REVERSE if vendor == "postgresql" else SQLITE_REVERSE)
