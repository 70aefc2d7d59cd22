"""An index for the admin's "failed reminders" list (tasks_reminder is the tasks app's table).

Failed reminders are rare, so listing them newest first (`WHERE state = 'failed' ORDER BY id DESC`)
walked the whole primary key backwards: 3.6 s at 10,000,000 reminders. This partial index holds
only the failed ones. It lives here, next to the admin that needs it, as plain SQL that PostgreSQL
and SQLite both take; it could move to `tasks.Reminder.Meta.indexes` with the same name.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("tasks", "0004_recurrence_reminders"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX reminder_failed ON tasks_reminder (id) WHERE state = 'failed'",
            reverse_sql="DROP INDEX reminder_failed",
        ),
    ]
