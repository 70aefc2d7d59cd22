"""Just-in-time provisioning under concurrency (needs PostgreSQL: real concurrent transactions)."""

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.helpers import me

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def test_concurrent_first_requests_provision_the_user_once(make_token):
    token = make_token("racingNewcomer", email="race@example.com", name="Racer")
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def first_request() -> None:
        try:
            barrier.wait()
            statuses.append(me(APIClient(), f"Bearer {token}").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    assert User.objects.filter(pk="racingNewcomer").count() == 1
