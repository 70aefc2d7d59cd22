"""Webhook throughput: N task writes of one user with a webhook → outbox → messages → POSTs to a
local receiver, timing dispatch and delivery separately (docs/WEBHOOKS.md).

Run against a migrated database of your own, e.g.
`DATABASE_URL=postgres://postgres@127.0.0.1:5432/todo_bench .venv/bin/python bench/webhooks.py 1000`.
It creates and then deletes one user (with their tasks and webhook).
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "todo_project.settings")
os.environ["WEBHOOK_ALLOW_PRIVATE"] = "true"

import django

django.setup()

from accounts.models import User, new_user_id  # noqa: E402
from tasks.services import task_create  # noqa: E402
from webhooks import services  # noqa: E402
from webhooks.tests.receiver import Receiver  # noqa: E402


def main(count: int) -> None:
    receiver = Receiver()
    user = User.objects.create_user(id=new_user_id())
    try:
        services.webhook_create(user=user, url=receiver.url, events=["task.created"])
        started = time.perf_counter()
        for number in range(count):
            task_create(user=user, title=f"Bench {number}")
        writes = time.perf_counter() - started

        started = time.perf_counter()
        while services.webhooks_dispatch(batch=200):
            pass
        dispatch = time.perf_counter() - started

        started = time.perf_counter()
        while services.webhooks_deliver(max_messages=500).more:
            pass
        deliver = time.perf_counter() - started
        assert len(receiver.hits) == count, len(receiver.hits)
        print(f"database: {django.db.connection.vendor}, {count} events")
        print(f"task writes (with the outbox on): {count / writes:,.0f}/s")
        print(f"dispatch: {count / dispatch:,.0f} events/s")
        print(f"deliver (one endpoint, sequential, keep-alive): {count / deliver:,.0f} messages/s")
    finally:
        user.delete()
        receiver.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
