"""Where webhooks may point (API.md §9): refused at creation (400 keyed `url`) and again at every
delivery, by the address actually connected to."""

import pytest

from core.tests.support import assert_problem
from webhooks import services
from webhooks.models import Webhook, WebhookAttempt
from webhooks.tests.support import create_webhook, webhooks_url

REFUSED_LITERALS = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "169.254.169.254",  # cloud metadata
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.10",  # documentation
    "198.18.0.1",  # benchmarking
    "[::1]",
    "[::]",
    "[::ffff:127.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[::ffff:10.0.0.1]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fe80::1]",
    "[ff02::1]",
    "[2001:db8::1]",
    "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
    "2130706433",  # 127.0.0.1 as one number
    "0x7f.1",  # 127.0.0.1 in hex shorthand
    "127.1",
    "localhost",
]


@pytest.mark.parametrize("host", REFUSED_LITERALS)
def test_private_and_reserved_addresses_are_refused_at_creation(auth_client, user, host):
    response = auth_client.post(
        webhooks_url(user.pk), {"url": f"https://{host}/hook", "events": ["task.created"]}, format="json"
    )
    assert_problem(response, 400, "validation_error", "url")
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "ftp://hooks.example.com/x",
        "file:///etc/passwd",
        "gopher://hooks.example.com/",
        "javascript:alert(1)",
        "https://",
        "hooks.example.com/x",
        "//hooks.example.com/x",
        "https://user:pass@hooks.example.com/x",
        "https://user@hooks.example.com/x",
        "https://hooks.example.com:99999/x",
        "https://hooks.example.com/x#frag",
        "https://hooks.example.com/a b",
        "https://hooks.example.com/\x00",
        " https://hooks.example.com/x",
        "https://" + "a" * 10_000 + ".com/",
        "https://hooks.example.com/" + "x" * 10_000,
        "",
        "https://[::1/x",
    ],
)
def test_garbage_urls_are_400_keyed_url(auth_client, user, url):
    response = auth_client.post(
        webhooks_url(user.pk), {"url": url, "events": ["task.created"]}, format="json"
    )
    body = assert_problem(response, 400, "validation_error", "url")
    assert len(response.content) < 2000, "the error must not echo a huge URL"
    assert body["errors"]["url"]


def test_a_name_that_does_not_resolve_yet_is_accepted(auth_client, user):
    body = create_webhook(auth_client, user.pk, "https://not-yet-there.invalid/hook")
    assert body["url"] == "https://not-yet-there.invalid/hook"


def test_allow_private_lifts_the_rules_and_allows_http(auth_client, user, allow_private):
    create_webhook(auth_client, user.pk, "http://127.0.0.1:9/hook")
    create_webhook(auth_client, user.pk, "https://[::1]/hook")
    create_webhook(auth_client, user.pk, "https://localhost/hook")


def test_allow_private_still_refuses_credentials_and_other_schemes(auth_client, user, allow_private):
    for url in ["https://u:p@127.0.0.1/", "ftp://127.0.0.1/"]:
        response = auth_client.post(
            webhooks_url(user.pk), {"url": url, "events": ["task.created"]}, format="json"
        )
        assert_problem(response, 400, "validation_error", "url")


def test_delivery_to_a_private_address_is_refused_without_connecting(auth_client, user, settings, receiver):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    create_webhook(auth_client, user.pk, receiver.url, ["task.created"])
    settings.WEBHOOK_ALLOW_PRIVATE = False
    services.messages_enqueue(
        user_id=user.pk,
        event="task.created",
        data={"id": 1},
        occurred_at=services.timezone.now(),
        source="t:1",
    )
    report = services.webhooks_deliver()
    assert report.failed == 1 and report.delivered == 0
    assert receiver.hits == []
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert "127.0.0.1" in attempt.error and "loopback" in attempt.error


def test_delivery_to_a_name_resolving_to_loopback_is_refused(auth_client, user, settings, receiver):
    """DNS rebinding: the name was fine (or unresolvable) at creation, and is loopback now."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    port = receiver.url.split(":")[2].split("/")[0]
    create_webhook(auth_client, user.pk, f"http://localhost:{port}/hook", ["task.created"])
    settings.WEBHOOK_ALLOW_PRIVATE = False
    services.messages_enqueue(
        user_id=user.pk,
        event="task.created",
        data={"id": 1},
        occurred_at=services.timezone.now(),
        source="t:1",
    )
    assert services.webhooks_deliver().failed == 1
    assert receiver.hits == []
    assert "loopback" in WebhookAttempt.objects.get().error
