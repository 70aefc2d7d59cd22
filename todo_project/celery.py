"""The Celery application that runs background work: reminders, webhooks, periodic clean-ups.

The database is the source of truth for every piece of background work; the broker only wakes
workers, so a lost or duplicated message delays work by at most one scan period and sends nothing
twice. Configuration is Django's (settings named CELERY_*); tasks are found in each app's tasks.py.
"""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")

app = Celery("todo_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_embedded_broker_folders(sender: Celery, **kwargs) -> None:
    """The embedded (filesystem) transport needs its folders to exist before anyone publishes."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
