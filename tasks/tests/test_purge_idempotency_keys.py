"""purge_idempotency_keys: stored idempotent responses older than 24 hours."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from tasks.models import IdempotencyKey
from tasks.tests.command_support import run


@pytest.fixture
def keys(db):
    user = UserFactory()
    old = IdempotencyKey.objects.create(user=user, key="old", fingerprint="f")
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.create(user=user, key="new", fingerprint="f")


def test_purge_idempotency_keys_deletes_only_expired(keys):
    out, _ = run("purge_idempotency_keys")
    assert "Deleted 1 expired idempotency key(s)." in out
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_purge_idempotency_keys_dry_run(keys):
    out, _ = run("purge_idempotency_keys", dry_run=True)
    assert "Would delete 1 expired idempotency key(s)." in out
    assert IdempotencyKey.objects.count() == 2
