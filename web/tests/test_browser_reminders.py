"""Repeating tasks, reminders, browser notifications and sync on focus, in a real browser.

What a person does: make a task repeat and give it reminders through the pickers, see the rule in
words, complete it and see the next one; turn notifications on (the browser's subscription reaches
the API), get a reminder pushed through a real push service into the page's service worker and see
the notification it shows; come back to the tab after another device changed things and see the
list follow without a reload. Headless Chromium has no push service of its own, so the test stands
in for it at two seams: `PushManager.subscribe` returns a subscription with a real P-256 key and
auth secret whose endpoint is the test's push service, and the message that service received (and
decrypted) is handed to the service worker through the DevTools protocol.
"""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from core.tests.support import mint_token
from notifications.models import PushSubscription
from notifications.services import deliver_due_reminders
from notifications.tests.push_service import FakePushService
from notifications.vapid import generate_private_key
from tasks.models import PRIORITY_BY_NAME, Task
from tasks.reminders import ReminderSpec
from tasks.services import task_create
from web.tests.conftest import PASSWORD, artifact, run_axe, write_json
from web.tests.test_browser_pages import (
    close_toast,
    open_more_fields,
    sign_in_through_the_form,
    tab_until,
    task_item,
    wait_for_list,
)

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip every test below with the reason
    expect = None

SUBJECT = "mailto:ops@example.com"


@pytest.fixture(autouse=True)
def tasks_deleted_before_the_flush(transactional_db):
    """Delete the tasks (and so their reminders) through the ORM before the test database is flushed.

    The change feed's SQLite triggers re-stamp a task when one of its reminders is deleted, reading
    the owner's tasks_taskcount row; `flush` empties tables in no fixed order, and deleting
    reminders after tasks_taskcount fails (NOT NULL change_seq). Deleting here, while every row is
    still there, keeps the teardown independent of that order.
    """
    yield
    Task.objects.all().delete()


def user_signed_in(page, email):
    user = User.objects.create_user(email=email, password=PASSWORD, name="Rita Reminder")
    sign_in_through_the_form(page, email)
    return user


def add_form(page):
    return page.locator("#add-form")


# --- Repeat and reminders through the pickers ----------------------------------------------------
def test_a_repeating_task_with_reminders_made_in_the_pickers_completes_into_its_next_one(page):
    user = user_signed_in(page, "rita@example.com")
    form = add_form(page)
    form.get_by_label("Title", exact=True).fill("Water the plants")
    open_more_fields(page)
    page.locator("#add-due").fill("2031-03-03T09:00")  # a Monday, New York time
    form.get_by_label("Repeats").select_option("weekly")
    days = form.get_by_role("group", name="On these days")
    expect(days).to_be_visible()
    days.get_by_label("Monday").check()
    days.get_by_label("Wednesday").check()
    form.get_by_label("Ends").select_option("count")
    form.get_by_label("Times").fill("3")
    form.get_by_role("button", name="Add a reminder").click()
    expect(form.get_by_label("Reminder 1", exact=True)).to_be_focused()
    form.get_by_label("Reminder 1", exact=True).select_option("PT1H")
    form.get_by_role("button", name="Add a reminder").click()
    form.get_by_label("Reminder 2", exact=True).select_option("at")
    form.get_by_label("Reminder 2 time").fill("2031-03-02T20:30")
    with page.expect_response(lambda r: r.request.method == "POST" and "/tasks/" in r.url) as created:
        form.get_by_role("button", name="Add task").click()
    assert created.value.status == 201, created.value.text()
    sent = created.value.request.post_data_json
    assert sent["recurrence"] == "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=3"
    assert sent["timezone"] == "America/New_York"  # the browser's zone
    assert sent["reminders"] == [{"before": "PT1H"}, {"at": "2031-03-02T20:30:00-05:00"}]

    task = Task.objects.get(user=user, title="Water the plants")
    assert task.recurrence == "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=3"
    assert task.timezone == "America/New_York"
    assert task.due_date == datetime(2031, 3, 3, 14, 0, tzinfo=UTC)
    assert [(r.before, r.at, r.state) for r in task.reminders.order_by("position")] == [
        ("PT1H", None, "pending"),
        ("", datetime(2031, 3, 3, 1, 30, tzinfo=UTC), "pending"),
    ]
    # The form is empty again for the next task, pickers included.
    expect(form.get_by_label("Repeats")).to_have_value("none")
    expect(form.locator(".reminder")).to_have_count(0)

    item = task_item(page, "Water the plants")
    expect(item.locator(".repeat-rule")).to_have_text(
        "Repeats: Every week on Monday and Wednesday, 3 times left"
    )
    expect(item.locator(".reminder-chip")).to_have_text(
        ["1 hour before · Pending", "At Mar 2, 2031, 8:30 PM · Pending"]
    )

    # The editor reads the rule and the reminders back into the same controls, states shown.
    item.get_by_role("button", name="Edit task: Water the plants").click()
    editor = page.get_by_role("form", name="Edit task: Water the plants")
    expect(editor.get_by_label("Repeats")).to_have_value("weekly")
    expect(editor.get_by_role("group", name="On these days").get_by_label("Monday")).to_be_checked()
    expect(editor.get_by_role("group", name="On these days").get_by_label("Wednesday")).to_be_checked()
    expect(editor.get_by_role("group", name="On these days").get_by_label("Friday")).not_to_be_checked()
    expect(editor.get_by_label("Ends")).to_have_value("count")
    expect(editor.get_by_label("Times")).to_have_value("3")
    expect(editor.get_by_label("Reminder 1", exact=True)).to_have_value("PT1H")
    expect(editor.get_by_label("Reminder 2", exact=True)).to_have_value("at")
    expect(editor.get_by_label("Reminder 2 time")).to_have_value("2031-03-02T20:30")
    expect(editor.locator(".reminder-state")).to_have_text(["Pending", "Pending"])
    # Saving a title change leaves the reminders as they were: they keep their state.
    editor.get_by_label("Title").fill("Water the plants!")
    with page.expect_response(lambda r: r.request.method == "PATCH") as saved:
        editor.get_by_role("button", name="Save").click()
    assert saved.value.status == 200
    assert saved.value.request.post_data_json == {"title": "Water the plants!"}
    close_toast(page)

    # Completing it shows the next one: Wednesday 09:00 in New York, one time fewer left.
    item = task_item(page, "Water the plants!")
    with page.expect_response(lambda r: "/complete/" in r.url) as completed:
        item.get_by_role("checkbox").check()
    successor_id = completed.value.json()["next_task_id"]
    assert successor_id is not None
    successor = page.locator(f'li.task[data-id="{successor_id}"]')
    expect(successor).to_be_visible()
    expect(successor.locator(".repeat-rule")).to_have_text(
        "Repeats: Every week on Monday and Wednesday, 2 times left"
    )
    expect(successor.locator("time")).to_have_text("Mar 5, 2031, 9:00 AM")
    # Relative reminders only go with it.
    expect(successor.locator(".reminder-chip")).to_have_text(["1 hour before · Pending"])
    expect(page.locator("#toast-text")).to_have_text(
        "Next “Water the plants!” added, due Mar 5, 2031, 9:00 AM."
    )
    expect(page.locator("#list-summary")).to_have_text("Showing 2 of 2 tasks.")
    expect(page.locator('[data-stat="total"]')).to_have_text("2")
    assert Task.objects.get(pk=successor_id).due_date == datetime(2031, 3, 5, 14, 0, tzinfo=UTC)
    # And after a reload, the order is the server's: the successor is the newest task.
    page.reload()
    wait_for_list(page)
    expect(page.locator("li.task").first).to_have_attribute("data-id", str(successor_id))
    page.screenshot(path=artifact("tasks-repeat-reminders-1280.png"), full_page=True)


def test_a_rule_the_picker_cannot_show_is_kept_and_errors_are_said_next_to_their_field(page):
    user = user_signed_in(page, "rules@example.com")
    due = datetime(2031, 6, 27, 13, 0, tzinfo=UTC)
    kept = task_create(
        user=user,
        title="Pay the rent",
        due_date=due,
        recurrence="FREQ=MONTHLY;BYDAY=-1FR",
        timezone="Europe/Berlin",
        reminders=[ReminderSpec(before="PT30M")],
    )
    page.reload()
    item = task_item(page, "Pay the rent")
    expect(item.locator(".repeat-rule")).to_have_text("Repeats: Every month on the last Friday")
    expect(item.locator(".reminder-chip")).to_have_text(["30 minutes before · Pending"])
    item.get_by_role("button", name="Edit task: Pay the rent").click()
    editor = page.get_by_role("form", name="Edit task: Pay the rent")
    expect(editor.get_by_label("Repeats")).to_have_value("custom")
    expect(editor.get_by_label("Repeats").locator("option:checked")).to_have_text(
        "Keep: Every month on the last Friday"
    )
    reminder = editor.get_by_label("Reminder 1", exact=True)
    expect(reminder.locator("option:checked")).to_have_text("30 minutes before")
    editor.get_by_label("Priority").select_option("high")
    with page.expect_response(lambda r: r.request.method == "PATCH") as saved:
        editor.get_by_role("button", name="Save").click()
    assert saved.value.request.post_data_json == {"priority": "high"}
    kept.refresh_from_db()
    assert kept.recurrence == "FREQ=MONTHLY;BYDAY=-1FR" and kept.timezone == "Europe/Berlin"
    assert kept.priority == PRIORITY_BY_NAME["high"]
    close_toast(page)

    # Errors from the API land next to their fields, in words, and nothing typed is lost.
    form = add_form(page)
    form.get_by_label("Title", exact=True).fill("Stretch")
    open_more_fields(page)
    form.get_by_label("Repeats").select_option("daily")
    form.get_by_label("Every").fill("0")
    with page.expect_response(lambda r: r.request.method == "POST" and "/tasks/" in r.url) as refused:
        form.get_by_role("button", name="Add task").click()
    assert refused.value.status == 400
    errors = refused.value.json()["errors"]
    assert set(errors) == {"recurrence"}
    expect(page.locator("#add-recurrence-error")).to_have_text(errors["recurrence"][0])
    expect(page.locator("#add-recurrence-error")).to_contain_text("INTERVAL")
    expect(form.get_by_label("Repeats")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Repeats")).to_be_focused()
    expect(form.get_by_label("Every")).to_have_value("0")

    form.get_by_label("Every").fill("2")
    form.get_by_role("button", name="Add a reminder").click()
    form.get_by_label("Reminder 1", exact=True).select_option("at")  # and no time given
    with page.expect_response(lambda r: r.request.method == "POST" and "/tasks/" in r.url) as refused:
        form.get_by_role("button", name="Add task").click()
    assert refused.value.status == 400
    errors = refused.value.json()["errors"]
    assert set(errors) == {"reminders"}
    message = page.locator("#add-reminders-error")
    expect(message).to_have_text(re.compile(r"^Reminder 1: "))
    assert message.inner_text() == errors["reminders"][0].replace("reminders[0].at: ", "Reminder 1: ")
    expect(form.get_by_label("Reminder 1", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#add-recurrence-error")).to_have_text("")  # the earlier message is gone

    # A repeating task without a due date: said at the field that needs it.
    form.get_by_label("Reminder 1 time").fill("2031-07-01T08:00")
    with page.expect_response(lambda r: r.request.method == "POST" and "/tasks/" in r.url) as refused:
        form.get_by_role("button", name="Add task").click()
    assert refused.value.status == 400
    errors = refused.value.json()["errors"]
    [(field, [words])] = errors.items()
    expect(page.locator(f"#add-form [data-error-for='{field}']")).to_have_text(words)
    assert "due date" in words
    assert not Task.objects.filter(title="Stretch").exists()
    # Nothing typed was lost on the way.
    expect(form.get_by_label("Title", exact=True)).to_have_value("Stretch")
    expect(form.get_by_label("Repeats")).to_have_value("daily")
    expect(form.get_by_label("Every")).to_have_value("2")
    expect(form.get_by_label("Reminder 1 time")).to_have_value("2031-07-01T08:00")
    page.locator("#add-due").fill("2031-07-01T09:00")
    with page.expect_response(lambda r: r.request.method == "POST" and "/tasks/" in r.url) as created:
        form.get_by_role("button", name="Add task").click()
    assert created.value.status == 201
    expect(task_item(page, "Stretch").locator(".repeat-rule")).to_have_text("Repeats: Every 2 days")


def test_the_pickers_work_from_the_keyboard_and_pass_axe(page):
    user_signed_in(page, "keys@example.com")
    tab_until(page, "el.id === 'add-title'")
    page.keyboard.type("Stand-up")
    open_more_fields(page)
    page.locator("#add-due").fill("2031-01-06T09:30")
    tab_until(page, "el.id === 'add-repeat'")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # Every weekday
    expect(page.locator("#add-repeat")).to_have_value("weekdays")
    tab_until(page, "el.classList.contains('reminder-add')")
    page.keyboard.press("Enter")
    expect(page.locator("#add-schedule .reminder-when")).to_be_focused()
    page.keyboard.press("ArrowDown")  # 1 hour before
    expect(page.locator("#add-schedule .reminder-when")).to_have_value("PT1H")
    found = {"add form with pickers": run_axe(page, context="#add-form")}
    page.emulate_media(color_scheme="dark")
    found["add form with pickers, dark"] = run_axe(page, context="#add-form")
    page.emulate_media(color_scheme="light")
    page.locator("#add-title").focus()
    with page.expect_response(lambda r: r.request.method == "POST" and "/tasks/" in r.url) as created:
        page.keyboard.press("Enter")
    assert created.value.status == 201
    assert created.value.json()["recurrence"] == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    item = task_item(page, "Stand-up")
    expect(item.locator(".repeat-rule")).to_have_text("Repeats: Every weekday")
    item.get_by_role("button", name="Edit task: Stand-up").click()
    found["edit form with pickers"] = run_axe(page, context=".edit-form")
    found["notifications control"] = run_axe(page, context=".notify-card")
    write_json("axe-serious-critical-reminders.json", found)
    assert {name: violations for name, violations in found.items() if violations} == {}


# --- Notifications: subscription, push, the service worker ----------------------------------------
@pytest.fixture
def push_service(settings):
    private, public = generate_private_key()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = private
    settings.WEBPUSH_VAPID_SUBJECT = SUBJECT
    settings.WEBPUSH_ALLOW_HTTP = True  # the test's push service is plain http on 127.0.0.1
    service = FakePushService(public, SUBJECT)
    yield service
    service.close()
    assert service.problems == []


# The browser's subscription, as Chromium would make it with a real push service: this browser
# profile's key pair and auth secret (here the test's), and the push service's endpoint.
FAKE_SUBSCRIBE = """
(subscription) => {
  window.__subscribeCalls = [];
  const fake = {
    endpoint: subscription.endpoint,
    expirationTime: null,
    options: null,
    toJSON() { return {endpoint: this.endpoint, expirationTime: null, keys: subscription.keys}; },
    async unsubscribe() { return true; },
  };
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__subscribeCalls.push({userVisibleOnly: options.userVisibleOnly, key: Array.from(key)});
    fake.options = {userVisibleOnly: options.userVisibleOnly, applicationServerKey: key.buffer};
    // Kept across reloads, as the browser keeps a subscription.
    sessionStorage.setItem("test-subscribed", JSON.stringify(fake.options.userVisibleOnly));
    return fake;
  };
  PushManager.prototype.getSubscription = async function () {
    if (!sessionStorage.getItem("test-subscribed")) return null;
    fake.options = fake.options || {userVisibleOnly: true, applicationServerKey: null};
    return fake;
  };
}
"""


def test_notifications_are_enabled_and_a_pushed_reminder_is_shown_by_the_service_worker(
    page, context, site, push_service
):
    browser_keys = push_service.browser("rita-laptop")
    context.grant_permissions(["notifications"], origin=site)
    context.add_init_script(f"({FAKE_SUBSCRIBE})({json.dumps(browser_keys.subscription_json())})")
    user = user_signed_in(page, "push@example.com")
    notify = page.get_by_role("region", name="Reminders on this device")
    expect(notify.get_by_role("status")).to_have_text(
        "Get a notification on this device when a reminder is due, even with this page closed."
    )
    with page.expect_response(lambda r: "/push-subscriptions/" in r.url) as saved:
        notify.get_by_role("button", name="Enable notifications").click()
    assert saved.value.status == 201
    expect(notify.get_by_role("status")).to_have_text(
        "Notifications are on: reminders appear on this device, even with this page closed."
    )
    expect(notify.get_by_role("button", name="Enable notifications")).to_be_hidden()
    # subscribe() got the server's public key as applicationServerKey.
    calls = page.evaluate("() => window.__subscribeCalls")
    public_key = page.request.get("/api/push/public-key/").json()["public_key"]
    assert len(calls) == 1 and calls[0]["userVisibleOnly"] is True
    assert bytes(calls[0]["key"]) == _b64url_decode(public_key)
    stored = PushSubscription.objects.get(user=user)
    assert (stored.endpoint, stored.p256dh, stored.auth) == (
        browser_keys.endpoint,
        browser_keys.p256dh,
        browser_keys.auth,
    )
    # The service worker controls the pages from the root.
    registration = page.evaluate(
        "() => navigator.serviceWorker.ready.then(r => ({scope: r.scope, script: r.active.scriptURL}))"
    )
    assert registration == {"scope": f"{site}/", "script": f"{site}/sw.js"}

    # A reminder falls due: the worker pushes it through the push service (encrypted, VAPID)...
    due = timezone.now() + timedelta(hours=2)
    fire_at = timezone.now() + timedelta(minutes=5)
    task = task_create(
        user=user, title="Call the dentist", due_date=due, reminders=[ReminderSpec(at=fire_at)]
    )
    report = deliver_due_reminders(now=fire_at + timedelta(seconds=1))
    assert report.reminders_sent == 1
    [payload] = push_service.received["rita-laptop"]
    assert payload["task"] == {"id": task.pk, "title": "Call the dentist", "due_date": _iso(due)}

    # ... and the browser hands it to the service worker, which shows the notification.
    cdp = context.new_cdp_session(page)
    registrations = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    _wait_until(page, lambda: any(r["scopeURL"] == f"{site}/" for r in registrations))
    registration_id = next(r["registrationId"] for r in registrations if r["scopeURL"] == f"{site}/")
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": site, "registrationId": registration_id, "data": json.dumps(payload)},
    )
    shown = page.wait_for_function(
        """() => navigator.serviceWorker.ready
            .then(r => r.getNotifications())
            .then(list => list.length
                ? list.map(n => ({title: n.title, body: n.body, tag: n.tag, data: n.data}))
                : null)"""
    ).json_value()
    due_words = page.evaluate(
        "(iso) => new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'})"
        ".format(new Date(iso))",
        _iso(due),
    )
    assert shown == [
        {
            "title": "Call the dentist",
            "body": f"Due {due_words}",
            "tag": f"task-{task.pk}",
            "data": {"taskId": task.pk, "url": "/"},
        }
    ]
    # Back on the page later: the state is read from the browser, and the server told again.
    with page.expect_response(lambda r: "/push-subscriptions/" in r.url) as again:
        page.reload()
    assert again.value.status == 200  # the same endpoint: kept, not duplicated
    expect(notify.get_by_role("status")).to_have_text(re.compile("^Notifications are on"))
    assert PushSubscription.objects.filter(user=user).count() == 1


def test_notification_states_blocked_and_server_without_key(page, context, site, settings):
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    context.grant_permissions(["notifications"], origin=site)
    user_signed_in(page, "nokey@example.com")
    notify = page.get_by_role("region", name="Reminders on this device")
    notify.get_by_role("button", name="Enable notifications").click()
    expect(notify.get_by_role("status")).to_have_text(
        "Could not turn notifications on: Web Push is not configured on this server (no VAPID key)."
    )
    expect(notify.get_by_role("button", name="Try again")).to_be_visible()
    assert not PushSubscription.objects.exists()

    blocked = context.new_page()
    blocked.add_init_script("Object.defineProperty(Notification, 'permission', {get: () => 'denied'})")
    blocked.goto("/")
    expect(blocked.locator("#notify-state")).to_have_text(
        re.compile("^Notifications are blocked for this site.")
    )
    expect(blocked.locator("#notify-enable")).to_be_hidden()
    # The one console error was the 503 the server answered for its missing key, said above.
    assert page.problems == [
        "console error: Failed to load resource: "
        "the server responded with a status of 503 (Service Unavailable)"
    ]
    page.problems.clear()
    unsupported = context.new_page()
    unsupported.add_init_script("delete window.PushManager")
    unsupported.goto("/")
    expect(unsupported.locator("#notify-state")).to_have_text(
        re.compile("^This browser cannot show reminders")
    )


# --- Sync on focus ---------------------------------------------------------------------------------
def bearer(user):
    return {"Authorization": f"Bearer {mint_token(user.pk, email=user.email, name=user.name)}"}


def come_back(page):
    """What the browser does when the person returns to the tab."""
    page.evaluate(
        """() => new Promise((done, fail) => {
            document.querySelector('#task-list').addEventListener('todo:synced', () => done(), {once: true});
            setTimeout(() => fail(new Error('the page did not sync within 10 s')), 10000);
            document.dispatchEvent(new Event('visibilitychange'));
            window.dispatchEvent(new Event('focus'));
        })"""
    )


def test_coming_back_to_the_tab_applies_other_devices_changes_without_reloading(page, site):
    user = User.objects.create_user(email="sync@example.com", password=PASSWORD)
    now = timezone.now()
    keep = task_create(user=user, title="Renamed elsewhere", due_date=now + timedelta(days=3))
    gone = task_create(user=user, title="Deleted elsewhere")
    task_create(user=user, title="Left alone")
    snapshots = []
    page.on("request", lambda r: snapshots.append(r.url) if "/tasks/changes/" in r.url else None)
    lists = []
    page.on("request", lambda r: lists.append(r.url) if re.search(r"/tasks/\?", r.url) else None)
    sign_in_through_the_form(page, "sync@example.com")
    expect(page.locator("#list-summary")).to_have_text("Showing 3 of 3 tasks.")
    assert snapshots and "since=" not in snapshots[0]
    page.evaluate("() => { window.__sameDocument = true; }")
    lists.clear()

    # Another device, through the API: a rename, a delete, a new task, a completion.
    api = f"/api/{user.pk}/tasks/"
    renamed = page.request.patch(
        f"{api}{keep.pk}/", data={"title": "Renamed on the phone"}, headers=bearer(user)
    )
    assert renamed.status == 200
    assert page.request.delete(f"{api}{gone.pk}/", headers=bearer(user)).status == 204
    created = page.request.post(api, data={"title": "Added on the phone"}, headers=bearer(user))
    assert created.status == 201

    come_back(page)
    expect(task_item(page, "Renamed on the phone")).to_be_visible()
    expect(task_item(page, "Renamed elsewhere")).to_have_count(0)
    expect(task_item(page, "Deleted elsewhere")).to_have_count(0)
    expect(page.locator("li.task .task-title")).to_have_text(
        ["Added on the phone", "Left alone", "Renamed on the phone"]
    )
    expect(page.locator("#list-summary")).to_have_text("Showing 3 of 3 tasks.")
    expect(page.locator('[data-stat="total"]')).to_have_text("3")
    assert page.evaluate("() => window.__sameDocument") is True  # no reload
    assert lists == []  # and the list was not fetched again
    assert any("since=" in url for url in snapshots)

    # A change to the task being edited waits for Save, which meets the 412 notice as before.
    page.get_by_role("button", name="Edit task: Left alone").click()
    left = Task.objects.get(user=user, title="Left alone")
    changed = page.request.patch(
        f"{api}{left.pk}/", data={"title": "Left alone (phone)"}, headers=bearer(user)
    )
    assert changed.ok
    come_back(page)
    form = page.get_by_role("form", name="Edit task: Left alone")
    expect(form).to_be_visible()
    form.get_by_label("Title").fill("Left alone (laptop)")
    with page.expect_response(lambda r: r.request.method == "PATCH") as refused:
        form.get_by_role("button", name="Save").click()
    assert refused.value.status == 412
    expect(task_item(page, "Left alone (phone)").get_by_role("alert")).to_contain_text("Not saved.")

    # A filtered list: a task that stops matching leaves it; one that starts matching joins it.
    page.get_by_role("search", name="Find and sort tasks").get_by_label("Show").select_option("pending")
    expect(page.locator("#list-summary")).to_have_text("Showing 3 of 3 tasks.")
    phone = Task.objects.get(user=user, title="Added on the phone")
    done = page.request.patch(f"{api}{phone.pk}/complete/", data={"completed": True}, headers=bearer(user))
    assert done.ok
    come_back(page)
    expect(task_item(page, "Added on the phone")).to_have_count(0)
    expect(page.locator("#list-summary")).to_have_text("Showing 2 of 2 tasks.")
    reopened = page.request.patch(
        f"{api}{phone.pk}/complete/", data={"completed": False}, headers=bearer(user)
    )
    assert reopened.ok
    come_back(page)
    expect(task_item(page, "Added on the phone")).to_be_visible()
    expect(page.locator("#list-summary")).to_have_text("Showing 3 of 3 tasks.")


def test_an_expired_sync_token_reloads_the_list_and_starts_a_fresh_snapshot(page, site):
    user = User.objects.create_user(email="expired@example.com", password=PASSWORD)
    task_create(user=user, title="Before the purge")
    sign_in_through_the_form(page, "expired@example.com")
    expect(page.locator("#list-summary")).to_have_text("Showing 1 of 1 task.")
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/api/" in r.url else None)

    def expired(route):
        route.fulfill(
            status=410,
            content_type="application/problem+json",
            body=json.dumps(
                {
                    "type": "about:blank",
                    "title": "Gone",
                    "status": 410,
                    "code": "sync_expired",
                    "detail": "This sync token is too old; start again without since.",
                }
            ),
        )

    page.route(re.compile(r"/tasks/changes/\?.*since="), expired)
    task_create(user=user, title="After the purge")
    come_back(page)
    expect(page.locator("li.task .task-title")).to_have_text(["After the purge", "Before the purge"])
    changes = [url for url in requests if "/tasks/changes/" in url]
    assert "since=" in changes[0]  # refused with 410
    assert "since=" not in changes[1]  # then a fresh snapshot
    assert any(re.search(r"/tasks/\?", url) for url in requests)  # and the list loaded again
    expect(page.locator("#alert")).to_be_hidden()


def _wait_until(page, predicate, timeout_s: float = 10.0):
    """Poll a Python-side condition fed by browser events, letting Playwright dispatch them."""
    deadline = datetime.now() + timedelta(seconds=timeout_s)
    while not predicate():
        if datetime.now() > deadline:
            raise AssertionError("condition not reached in time")
        page.wait_for_timeout(50)  # pumps Playwright's event loop; the condition is what we wait for


def _b64url_decode(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
