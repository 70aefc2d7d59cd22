"""The pages in a real browser (Debian's Chromium through Playwright) against a live server.

What a person does, start to end: register, sign in, add tasks, toggle, filter, search, edit, meet
another tab's newer version, delete (and undo), sign out and be refused; and what a person needs:
the keyboard alone, no serious accessibility violation (axe-core), readable at 360 and 1280 px,
no layout jump, and a page that stays quick with 500 tasks. Screenshots go to test-artifacts/.
"""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from tasks.models import PRIORITY_BY_NAME, Task
from tasks.services import task_create
from web.tests.conftest import PASSWORD, artifact, run_axe, write_json

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip every test below with the reason
    expect = None


# --- What a person does on the page ------------------------------------------------------------
def task_item(page, title):
    return page.locator("li.task").filter(has=page.get_by_role("heading", name=title, exact=True))


def wait_for_list(page):
    expect(page.locator("#task-list")).to_have_attribute("aria-busy", "false")


def open_more_fields(page):
    if page.locator("#add-more").get_attribute("open") is None:
        page.get_by_text("Description, priority, due date, tags, repeat and reminders").click()


def add_task(page, title, *, description="", priority=None, due=None, tags=""):
    page.get_by_label("Title", exact=True).fill(title)
    if description or priority or due or tags:
        open_more_fields(page)
        page.locator("#add-description").fill(description)
        if priority:
            page.locator("#add-priority").select_option(priority)
        page.locator("#add-due").fill(due or "")
        page.locator("#add-tags").fill(tags)
    with page.expect_response(lambda r: r.request.method == "POST" and "/tasks/" in r.url) as created:
        page.get_by_role("button", name="Add task").click()
    assert created.value.status == 201, created.value.text()
    expect(task_item(page, title)).to_be_visible()


def filters(page):
    return page.get_by_role("search", name="Find and sort tasks")


def stat(page, name):
    return page.locator(f'[data-stat="{name}"]')


def shown_titles(page):
    wait_for_list(page)
    return page.locator("li.task:visible .task-title").all_inner_texts()


def register_through_the_form(page, email, name="Ada Lovelace"):
    page.goto("/register")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/$"))


def sign_in_through_the_form(page, email):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    wait_for_list(page)


def close_toast(page):
    if page.locator("#toast").is_visible():
        page.locator("#toast-close").click()
    expect(page.locator("#toast")).to_be_hidden()


# --- The whole journey ---------------------------------------------------------------------------
def test_a_person_registers_signs_in_manages_tasks_and_signs_out(page, context):
    email = "ada@example.com"
    register_through_the_form(page, email)
    wait_for_list(page)
    expect(page.locator("#list-summary")).to_have_text("No tasks to show.")
    expect(page.locator("#list-empty")).to_have_text("No tasks yet. Add your first one above.")
    user = User.objects.get(email=email)
    assert user.name == "Ada Lovelace"

    # Sign out, then back in through the sign-in form.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    sign_in_through_the_form(page, email)

    # Add three tasks with tags and due dates typed in New York time.
    add_task(page, "Buy milk", priority="high", due="2030-01-15T09:30", tags="errands, home")
    add_task(page, "Write report", priority="medium", due="2020-03-01T10:00", tags="work")
    add_task(page, "Call the plumber", description="The kitchen sink leaks.", tags="Home")
    assert shown_titles(page) == ["Call the plumber", "Write report", "Buy milk"]
    milk = Task.objects.get(user=user, title="Buy milk")
    # 09:30 in New York in January is 14:30 UTC: the browser's offset went with the date.
    assert milk.due_date == datetime(2030, 1, 15, 14, 30, tzinfo=UTC)
    assert sorted(milk.tags.values_list("name", flat=True)) == ["errands", "home"]
    assert milk.priority == PRIORITY_BY_NAME["high"]
    # "Home" is the user's existing tag "home" (tags are case-insensitive, first spelling kept).
    expect(task_item(page, "Call the plumber").locator(".tag")).to_have_text(["Show tasks tagged home"])
    expect(stat(page, "total")).to_have_text("3")
    expect(stat(page, "overdue")).to_have_text("1")
    expect(task_item(page, "Write report").locator(".badge-overdue")).to_have_text("Overdue")
    expect(task_item(page, "Buy milk").locator("time")).to_have_text("Jan 15, 2030, 9:30 AM")
    close_toast(page)
    # Fold the extra fields.
    page.get_by_text("Description, priority, due date, tags, repeat and reminders").click()
    page.screenshot(path=artifact("tasks-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=artifact("tasks-360.png"), full_page=True)
    no_sideways_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(no_sideways_scroll), "the page scrolls sideways at 360 px"
    page.set_viewport_size({"width": 1280, "height": 900})

    # Toggle one done.
    task_item(page, "Buy milk").get_by_role("checkbox").check()
    expect(stat(page, "completed")).to_have_text("1")
    expect(task_item(page, "Buy milk")).to_have_class(re.compile(r"task-done-state"))
    milk.refresh_from_db()
    assert milk.completed and milk.completed_at is not None

    # Filter by status, priority and tag; search; the address keeps the filters.
    filters(page).get_by_label("Show").select_option("completed")
    expect(page.locator("#list-summary")).to_have_text("Showing 1 of 1 task.")
    assert shown_titles(page) == ["Buy milk"]
    filters(page).get_by_label("Show").select_option("pending")
    expect(page.locator("#list-summary")).to_have_text("Showing 2 of 2 tasks.")
    filters(page).get_by_label("Show").select_option("overdue")
    expect(page.locator("#list-summary")).to_have_text("Showing 1 of 1 task.")
    assert shown_titles(page) == ["Write report"]
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#list-summary")).to_have_text("Showing 3 of 3 tasks.")
    filters(page).get_by_label("Tag", exact=True).select_option("home")
    expect(page.locator("#list-summary")).to_have_text("Showing 2 of 2 tasks.")
    assert shown_titles(page) == ["Call the plumber", "Buy milk"]
    filters(page).get_by_label("Priority").select_option("high")
    expect(page.locator("#list-summary")).to_have_text("Showing 1 of 1 task.")
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#list-summary")).to_have_text("Showing 3 of 3 tasks.")
    filters(page).get_by_label("Search").fill("SINK")  # description, any case
    expect(page.locator("#list-summary")).to_have_text("Showing 1 of 1 task.")
    assert shown_titles(page) == ["Call the plumber"]
    assert "search=SINK" in page.url
    page.reload()
    expect(filters(page).get_by_label("Search")).to_have_value("SINK")
    expect(page.locator("#list-summary")).to_have_text("Showing 1 of 1 task.")
    page.get_by_role("button", name="Clear filters").click()
    filters(page).get_by_label("Sort by").select_option("title")
    expect(page.locator("#list-summary")).to_have_text("Showing 3 of 3 tasks.")
    assert shown_titles(page) == ["Buy milk", "Call the plumber", "Write report"]
    task_item(page, "Write report").get_by_role("button", name="Show tasks tagged work").click()
    expect(page.locator("#list-summary")).to_have_text("Showing 1 of 1 task.")
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#list-summary")).to_have_text("Showing 3 of 3 tasks.")

    # Edit one in place.
    plumber = task_item(page, "Call the plumber")
    plumber.get_by_role("button", name="Edit task: Call the plumber").click()
    form = page.get_by_role("form", name="Edit task: Call the plumber")
    expect(form.get_by_label("Title")).to_be_focused()
    form.get_by_label("Title").fill("Call the plumber again")
    form.get_by_label("Priority").select_option("high")
    form.get_by_label("Tags").fill("home, urgent")
    form.get_by_role("button", name="Save").click()
    edited = task_item(page, "Call the plumber again")
    expect(edited.locator(".badge-high")).to_have_text("High priority")
    expect(edited.get_by_role("button", name="Edit task: Call the plumber again")).to_be_focused()
    stored = Task.objects.get(user=user, title="Call the plumber again")
    assert stored.version == 2
    assert sorted(stored.tags.values_list("name", flat=True)) == ["home", "urgent"]

    # Another tab changes "Write report" first: this tab's edit must not overwrite it.
    page.get_by_role("button", name="Edit task: Write report").click()
    other_tab = context.new_page()
    other_tab.goto("/")
    wait_for_list(other_tab)
    other_tab.get_by_role("button", name="Edit task: Write report").click()
    other_tab.get_by_role("form", name="Edit task: Write report").get_by_label("Title").fill(
        "Write the report (v2)"
    )
    other_tab.get_by_role("button", name="Save").click()
    expect(task_item(other_tab, "Write the report (v2)")).to_be_visible()
    other_tab.close()
    form = page.get_by_role("form", name="Edit task: Write report")
    form.get_by_label("Title").fill("Write report today")
    with page.expect_response(lambda r: r.request.method == "PATCH") as refused:
        form.get_by_role("button", name="Save").click()
    assert refused.value.status == 412
    newer = task_item(page, "Write the report (v2)")
    conflict = newer.get_by_role("alert")
    expect(conflict).to_contain_text("Not saved.")
    expect(conflict).to_contain_text("Someone changed this task in another tab or device first.")
    expect(conflict).to_contain_text("Title: Write report today")
    expect(newer.get_by_role("button", name="Edit the newer version")).to_be_focused()
    assert Task.objects.get(user=user, pk=Task.objects.get(title="Write the report (v2)").pk).version == 2
    assert not Task.objects.filter(title="Write report today").exists()
    newer.get_by_role("button", name="Edit the newer version").click()
    expect(
        page.get_by_role("form", name="Edit task: Write the report (v2)").get_by_label("Title")
    ).to_have_value("Write the report (v2)")
    page.keyboard.press("Escape")
    expect(page.get_by_role("form", name="Edit task: Write the report (v2)")).to_have_count(0)

    # Every problem+json detail reaches the user in words: a 51-character tag is refused.
    add_task_attempt = page.get_by_label("Title", exact=True)
    add_task_attempt.fill("Too long a tag")
    open_more_fields(page)
    page.locator("#add-tags").fill("x" * 51)
    with page.expect_response(lambda r: r.request.method == "POST" and "/tasks/" in r.url) as bad:
        page.get_by_role("button", name="Add task").click()
    assert bad.value.status == 400
    detail = bad.value.json()["detail"]
    expect(page.locator("#add-form .form-error")).to_have_text(f"Could not add the task: {detail}")
    expect(page.locator("#add-tags-error")).to_contain_text("no more than 50 characters")
    expect(page.locator("#add-tags")).to_have_attribute("aria-invalid", "true")
    page.locator("#add-tags").fill("")
    page.get_by_label("Title", exact=True).fill("")

    # Delete one: undo brings it back; dismissing the notice deletes it for good.
    page.get_by_role("button", name="Delete task: Buy milk").click()
    expect(task_item(page, "Buy milk")).to_be_hidden()
    expect(page.locator("#toast-text")).to_have_text("Deleted “Buy milk”.")
    expect(page.get_by_role("button", name="Undo")).to_be_focused()
    page.keyboard.press("Enter")
    expect(task_item(page, "Buy milk")).to_be_visible()
    assert Task.objects.filter(title="Buy milk").exists()
    page.get_by_role("button", name="Delete task: Buy milk").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.get_by_role("button", name="Dismiss", exact=True).click()
    assert deleted.value.status == 204
    expect(stat(page, "total")).to_have_text("2")
    assert not Task.objects.filter(title="Buy milk").exists()
    page.reload()
    assert "Buy milk" not in shown_titles(page)

    # The token lived in memory only: nothing in storage or readable cookies.
    storage = page.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]")
    assert storage[:2] == [0, 0]
    assert "sessionid" not in storage[2] and "eyJ" not in storage[2]

    # Sign out, and be refused.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto("/")
    assert page.url.endswith("/login?next=/")
    assert page.request.get("/auth/session-token").status == 401


def test_stale_token_is_replaced_once_and_the_request_retried(page, site):
    user = User.objects.create_user(email="grace@example.com", password=PASSWORD)
    task_create(user=user, title="Survives a 401")
    sign_in_through_the_form(page, "grace@example.com")
    token_requests = []
    page.on("request", lambda r: token_requests.append(r.url) if "/auth/session-token" in r.url else None)
    refused = []

    def refuse_first(route):
        if not refused:
            refused.append(route.request.headers.get("authorization"))
            route.fulfill(
                status=401,
                content_type="application/problem+json",
                body='{"status": 401, "code": "token_expired", "detail": "The token has expired."}',
            )
        else:
            route.continue_()

    page.route(re.compile(r"/api/[^/]+/tasks/\?"), refuse_first)
    with page.expect_response(lambda r: "sort=title" in r.url and r.status == 200):
        filters(page).get_by_label("Sort by").select_option("title")
    expect(page.locator("#list-summary")).to_have_text("Showing 1 of 1 task.")
    assert refused and refused[0].startswith("Bearer ")
    assert len(token_requests) == 1  # a fresh token was fetched for the retry
    expect(page.locator("#alert")).to_be_hidden()


def test_an_ended_session_is_said_in_words(page, site, context):
    User.objects.create_user(email="alan@example.com", password=PASSWORD)
    sign_in_through_the_form(page, "alan@example.com")
    context.clear_cookies()  # signed out elsewhere, say
    page.route(re.compile(r"/api/"), lambda route: route.fulfill(status=401, body="{}"))
    filters(page).get_by_label("Show").select_option("pending")
    alert = page.locator("#alert")
    expect(alert).to_contain_text("You are not signed in, or your session has ended. Sign in again.")
    expect(alert.get_by_role("link", name="Sign in again")).to_have_attribute(
        "href", re.compile(r"^/login\?next=")
    )


# --- Keyboard, accessibility, looks --------------------------------------------------------------
def tab_until(page, predicate_js, limit=60):
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return Boolean({predicate_js}); }}"):
            return
    raise AssertionError(f"Tab never reached {predicate_js}")


def focus_is_visible(page) -> bool:
    return page.evaluate(
        """() => {
            const style = getComputedStyle(document.activeElement);
            return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
        }"""
    )


def test_the_keyboard_alone_is_enough(page, site):
    User.objects.create_user(email="kim@example.com", password=PASSWORD)
    page.goto("/login")
    # The email field has focus (autofocus: wait for it to land, typing earlier loses keys);
    # type, tab to the password, press Enter.
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type("kim@example.com")
    expect(page.get_by_label("Email")).to_have_value("kim@example.com")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    wait_for_list(page)

    tab_until(page, "el.classList.contains('skip-link')")
    assert focus_is_visible(page)
    tab_until(page, "el.id === 'add-title'")
    assert focus_is_visible(page)
    page.keyboard.type("Typed without a mouse")
    expect(page.locator("#add-title")).to_have_value("Typed without a mouse")
    page.keyboard.press("Enter")
    item = task_item(page, "Typed without a mouse")
    expect(item).to_be_visible()
    expect(page.locator("#add-title")).to_be_focused()
    wait_for_list(page)

    tab_until(page, "el.classList.contains('task-done')")
    assert focus_is_visible(page)
    page.keyboard.press("Space")
    expect(item).to_have_class(re.compile(r"task-done-state"))
    expect(item.get_by_role("checkbox")).to_be_focused()

    tab_until(page, "el.classList.contains('task-edit')")
    page.keyboard.press("Enter")
    title = page.get_by_role("form", name="Edit task: Typed without a mouse").get_by_label("Title")
    expect(title).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(", edited")
    expect(title).to_have_value("Typed without a mouse, edited")
    page.keyboard.press("Enter")
    expect(task_item(page, "Typed without a mouse, edited")).to_be_visible()

    tab_until(page, "el.classList.contains('task-delete')")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Undo")).to_be_focused()
    with page.expect_response(lambda r: r.request.method == "DELETE"):
        page.keyboard.press("Escape")  # closes the notice: the deletion goes ahead
    expect(page.locator("#list-summary")).to_have_text("No tasks to show.")


def test_pages_have_no_serious_or_critical_accessibility_violations(page, site):
    found = {}
    page.goto("/register")
    found["register"] = run_axe(page)
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#form-error")).to_be_visible()
    found["register with errors"] = run_axe(page)
    page.goto("/login")
    found["login"] = run_axe(page)

    user = User.objects.create_user(email="axe@example.com", password=PASSWORD, name="Axe Tester")
    soon = timezone.now() + timedelta(days=2)
    task_create(user=user, title="Pay rent", priority=PRIORITY_BY_NAME["high"], due_date=soon, tags=["home"])
    task_create(user=user, title="Old thing", due_date=timezone.now() - timedelta(days=3), tags=["work"])
    task_create(user=user, title="Done thing", description="With a description.", completed=True)
    sign_in_through_the_form(page, "axe@example.com")
    found["tasks"] = run_axe(page)
    page.get_by_role("button", name="Edit task: Pay rent").click()
    open_more_fields(page)
    page.get_by_role("button", name="Delete task: Old thing").click()
    found["tasks, editing, undo notice"] = run_axe(page)
    page.locator("#toast-action").click()
    page.emulate_media(color_scheme="dark")
    found["tasks, dark"] = run_axe(page)
    page.screenshot(path=artifact("tasks-1280-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    write_json("axe-serious-critical.json", found)
    assert {name: violations for name, violations in found.items() if violations} == {}
    # And the check can fail: an unlabelled field and an image without alt text are reported.
    page.evaluate(
        """() => document.querySelector('main').append(
            Object.assign(document.createElement('input'), {type: 'text'}),
            Object.assign(document.createElement('img'), {src: 'data:,'}))"""
    )
    assert {"label", "image-alt"} <= {violation["id"] for violation in run_axe(page)}


def test_the_page_stays_fast_and_still_with_500_tasks(page, site):
    user = User.objects.create_user(email="busy@example.com", password=PASSWORD)
    now = timezone.now()
    priorities = list(PRIORITY_BY_NAME.values())
    Task.objects.bulk_create(
        Task(
            user=user,
            title=f"Task number {n:03d}",
            description="Some words to search through." if n % 7 == 0 else "",
            priority=priorities[n % 4],
            due_date=now + timedelta(hours=n - 100) if n % 3 == 0 else None,
            completed=n % 5 == 0,
            completed_at=now if n % 5 == 0 else None,
            created_at=now - timedelta(minutes=n),
            updated_at=now - timedelta(minutes=n),
        )
        for n in range(500)
    )
    sign_in_through_the_form(page, "busy@example.com")
    # Layout shifts from now on (none of them caused by input) are what a person sees as jumps.
    page.goto("/")
    page.evaluate(
        """() => {
            window.__shift = 0;
            new PerformanceObserver((list) => {
                for (const entry of list.getEntries()) {
                    if (!entry.hadRecentInput) window.__shift += entry.value;
                }
            }).observe({type: 'layout-shift', buffered: true});
        }"""
    )
    expect(page.locator("#list-summary")).to_have_text("Showing 100 of 500 tasks.")
    first_page_ms = page.evaluate("() => performance.now()")
    # Let anything that would still move, move: web fonts loaded and two frames painted since.
    page.evaluate(
        "() => document.fonts.ready.then(() => new Promise((done) =>"
        " requestAnimationFrame(() => requestAnimationFrame(done))))"
    )
    loading_shift = page.evaluate("() => window.__shift")
    started = time.perf_counter()
    for shown in (200, 300, 400, 500):
        # Each click waits for the button (visible, enabled), then for the page it asked for.
        page.locator("#load-more").click()
        expect(page.locator("li.task")).to_have_count(shown)
        wait_for_list(page)
    expect(page.locator("#load-more")).to_be_hidden()
    all_loaded_s = time.perf_counter() - started
    expect(page.locator("#list-summary")).to_have_text("Showing 500 of 500 tasks.")
    assert page.locator("li.task").count() == 500
    assert len(set(page.locator("li.task").evaluate_all("nodes => nodes.map(n => n.dataset.id)"))) == 500

    started = time.perf_counter()
    filters(page).get_by_label("Search").fill("number 123")
    expect(page.locator("#list-summary")).to_have_text("Showing 1 of 1 task.")
    search_s = time.perf_counter() - started
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#list-summary")).to_have_text("Showing 100 of 500 tasks.")

    started = time.perf_counter()
    item = page.locator("li.task").nth(1)
    item.get_by_role("checkbox").click()
    expect(item.get_by_role("checkbox")).to_be_enabled()
    toggle_s = time.perf_counter() - started
    render_ms = page.evaluate(
        "() => performance.getEntriesByName('todo:render-tasks').map(entry => entry.duration)"
    )
    numbers = {
        "first_page_shown_ms_after_navigation": round(first_page_ms),
        "slowest_render_of_a_page_of_100_ms": round(max(render_ms), 1),
        "load_more_until_500_shown_s": round(all_loaded_s, 2),
        "search_round_trip_s": round(search_s, 2),
        "toggle_round_trip_s": round(toggle_s, 2),
        "layout_shift_while_loading": round(loading_shift, 4),
        # Includes the list growing and shrinking on request (load more, search), for the record.
        "layout_shift_whole_visit": round(page.evaluate("() => window.__shift"), 4),
    }
    write_json("performance-500-tasks.json", numbers)
    # Bounds generous enough for a busy two-core CI machine; the artifact has the real numbers.
    assert first_page_ms < 5000, numbers
    assert all_loaded_s < 30, numbers
    assert search_s < 5 and toggle_s < 5, numbers
    assert max(render_ms) < 1000, numbers  # building 100 rows in the page itself (~20 ms when idle)
    assert loading_shift < 0.01, numbers  # nothing jumps while the tasks arrive


# --- The API docs under their Content-Security-Policy ----------------------------------------------
def test_the_api_docs_render_under_their_content_security_policy(page, site):
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security" in message.text else None,
    )
    response = page.goto("/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Todo API")
    expect(page.locator(".opblock-summary-path", has_text="/api/auth/token/revoke/").first).to_be_visible()
    assert violations == []  # and the page fixture fails on any console error besides
