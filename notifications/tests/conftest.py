"""Fixtures of the notification tests: a VAPID key pair configured, and a real push service."""

import pytest

from notifications.tests.push_service import FakePushService
from notifications.vapid import generate_private_key

SUBJECT = "mailto:ops@example.com"


@pytest.fixture
def vapid(settings):
    private, public = generate_private_key()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = private
    settings.WEBPUSH_VAPID_SUBJECT = SUBJECT
    settings.WEBPUSH_ALLOW_HTTP = True
    return public


@pytest.fixture
def push_service(vapid):
    service = FakePushService(vapid, SUBJECT)
    yield service
    service.close()
    assert service.problems == []
