-- Seeds a PostgreSQL database (migrated, otherwise empty) for docs/EXPLAIN.md's due-scan plan:
-- 10,000 users, 2,000,000 tasks, 10,000,000 reminders (5 per task). 97% of the reminders are
-- history (sent or skipped, in the past 90 days), 3% pending over the next 30 days, and 2,000
-- pending ones fell due in the last minute.
--   psql -h 127.0.0.1 -U postgres -d todo_push_explain -f bench/reminders_explain.sql
\timing on
BEGIN;
INSERT INTO accounts_user (id, password, email, name, is_active, is_staff, is_superuser, date_joined)
SELECT 'u' || n, '!', 'u' || n || '@example.com', '', true, false, false, now()
FROM generate_series(1, 10000) AS n;
INSERT INTO tasks_task (id, user_id, title, description, completed, priority, due_date, version, created_at, updated_at, timezone)
SELECT n, 'u' || (n % 10000 + 1), 'Task ' || n, '', false, 0, now() + (n % 1000) * interval '1 hour', 1, now(), now(), 'UTC'
FROM generate_series(1, 2000000) AS n;
INSERT INTO tasks_reminder (task_id, user_id, position, before, at, fire_at, state, sent_at)
SELECT t, 'u' || (t % 10000 + 1), p, '', at, at,
       CASE WHEN r < 0.0002 THEN 'pending' WHEN r < 0.03 THEN 'pending' WHEN r < 0.9 THEN 'sent' ELSE 'skipped' END,
       CASE WHEN r >= 0.03 AND r < 0.9 THEN at END
FROM (
  SELECT t, p, r,
         CASE WHEN r < 0.0002 THEN now() - random() * interval '1 minute'
              WHEN r < 0.03 THEN now() + random() * interval '30 days'
              ELSE now() - random() * interval '90 days' END AS at
  FROM (SELECT t, p, random() AS r FROM generate_series(1, 2000000) AS t, generate_series(0, 4) AS p) AS s
) AS x;
COMMIT;
VACUUM ANALYZE tasks_reminder;
VACUUM ANALYZE tasks_task;
SELECT state, count(*) FROM tasks_reminder GROUP BY state ORDER BY state;
