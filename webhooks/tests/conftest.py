"""Fixtures of the webhook tests: real receivers on 127.0.0.1, and private addresses allowed so
that webhooks can point at them (tests of the address rules turn it off again)."""

import pytest

from webhooks.tests.receiver import Behaviour, Receiver


@pytest.fixture
def allow_private(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    return settings


@pytest.fixture
def receiver_factory():
    made: list[Receiver] = []

    def make(**behaviour) -> Receiver:
        receiver = Receiver(Behaviour(**behaviour))
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def receiver(receiver_factory) -> Receiver:
    return receiver_factory()
