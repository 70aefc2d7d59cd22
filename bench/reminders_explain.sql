-- Seeds a freshly migrated PostgreSQL database for docs/EXPLAIN.md's due-scan plan:
-- 10,000 users, 1,000,000 tasks, 10,000,000 reminders (10 per task). 97% of the reminders are
-- history (sent or skipped, over the past 90 days), 3% pending over the next 30 days, and 0.02%
-- (about 2,000) pending ones fell due in the last minute.
--   createdb todo_push_explain && DATABASE_URL=.../todo_push_explain manage.py migrate
--   psql -h 127.0.0.1 -U postgres -d todo_push_explain -f bench/reminders_explain.sql
-- To seed in minutes on two cores, the load runs without the reminder table's secondary indexes
-- and foreign keys, which are then built (the same definitions) and re-added; the task table's
-- list indexes and count triggers, which the due scan never touches, are dropped.
\timing on
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';

DO $$ DECLARE i record; BEGIN
  FOR i IN SELECT indexname FROM pg_indexes WHERE tablename = 'tasks_task' AND indexname <> 'tasks_task_pkey' LOOP
    EXECUTE format('DROP INDEX %I', i.indexname);
  END LOOP;
END $$;
ALTER TABLE tasks_task DISABLE TRIGGER USER;

INSERT INTO accounts_user (id, password, email, name, is_active, is_staff, is_superuser, date_joined)
SELECT 'u' || n, '!', 'u' || n || '@example.com', '', true, false, false, now()
FROM generate_series(1, 10000) AS n;
INSERT INTO tasks_task (id, user_id, title, description, completed, priority, due_date, version, created_at, updated_at, timezone)
SELECT n, 'u' || (n % 10000 + 1), 'Task ' || n, '', false, 0, now() + (n % 1000) * interval '1 hour', 1, now(), now(), 'UTC'
FROM generate_series(1, 1000000) AS n;

CREATE TEMP TABLE saved_indexes AS
  SELECT indexname, indexdef FROM pg_indexes
  WHERE tablename = 'tasks_reminder' AND indexname NOT IN ('tasks_reminder_pkey', 'reminder_unique_position');
CREATE TEMP TABLE saved_fks AS
  SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
  WHERE conrelid = 'tasks_reminder'::regclass AND contype = 'f';
DO $$ DECLARE i record; BEGIN
  FOR i IN SELECT indexname FROM saved_indexes LOOP EXECUTE format('DROP INDEX %I', i.indexname); END LOOP;
  FOR i IN SELECT conname FROM saved_fks LOOP EXECUTE format('ALTER TABLE tasks_reminder DROP CONSTRAINT %I', i.conname); END LOOP;
END $$;
ALTER TABLE tasks_reminder DROP CONSTRAINT reminder_unique_position;

INSERT INTO tasks_reminder (task_id, user_id, position, before, at, fire_at, state, sent_at)
SELECT t, 'u' || (t % 10000 + 1), p, '', at, at,
       CASE WHEN r < 0.03 THEN 'pending' WHEN r < 0.9 THEN 'sent' ELSE 'skipped' END,
       CASE WHEN r >= 0.03 AND r < 0.9 THEN at END
FROM (
  SELECT t, p, r,
         CASE WHEN r < 0.0002 THEN now() - random() * interval '1 minute'
              WHEN r < 0.03 THEN now() + random() * interval '30 days'
              ELSE now() - random() * interval '90 days' END AS at
  FROM (SELECT t, p, random() AS r FROM generate_series(1, 1000000) AS t, generate_series(0, 9) AS p) AS s
) AS x;

ALTER TABLE tasks_reminder ADD CONSTRAINT reminder_unique_position UNIQUE (task_id, position);
DO $$ DECLARE i record; BEGIN
  FOR i IN SELECT indexdef FROM saved_indexes LOOP EXECUTE i.indexdef; END LOOP;
  FOR i IN SELECT conname, def FROM saved_fks LOOP
    EXECUTE format('ALTER TABLE tasks_reminder ADD CONSTRAINT %I %s NOT VALID', i.conname, i.def);
  END LOOP;
END $$;
VACUUM ANALYZE tasks_reminder;
VACUUM ANALYZE tasks_task;
SELECT state, count(*) FROM tasks_reminder GROUP BY state ORDER BY state;
