"""The task and tag admin, through admin_client: every page, filter, search and action."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.utils import timezone

from accounts.tests.factories import UserFactory
from core.admin_paging import LargeTablePaginator
from tasks.admin import TaskAdmin
from tasks.models import Priority, Tag, Task
from tasks.tests.factories import TaskFactory

TASKS = "/admin/tasks/task/"
TAGS = "/admin/tasks/tag/"
# The changelist's queries: session, user, the capped count, the page, its tags, the tag-filter
# choices, the oldest task for the date drill-down. Never one per row.
MAX_LIST_QUERIES = 10


def titles(response) -> set[str]:
    """The task titles the changelist shows (the link text of each row)."""
    return set(re.findall(r'<th class="field-title"><a href="[^"]+">([^<]+)</a>', response.content.decode()))


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com", name="Alice Example")


@pytest.fixture
def bob(db):
    return UserFactory(email="bob@example.com", name="Bob Example")


@pytest.fixture
def board(alice, bob):
    """A handful of tasks covering every filter value."""
    now = timezone.now()
    return {
        "overdue": TaskFactory(
            user=alice, title="Overdue report", due_date=now - timedelta(days=3), priority=3
        ),
        "today": TaskFactory(
            user=alice, title="Due today", due_date=now.replace(hour=23, minute=59), tags=["work"]
        ),
        "no_due": TaskFactory(
            user=alice, title="Someday maybe", description="a dentist visit", tags=["Home"]
        ),
        "done": TaskFactory(user=bob, title="Done already", completed=True, priority=1, tags=["work"]),
        "later": TaskFactory(user=bob, title="Far future", due_date=now + timedelta(days=60)),
    }


def test_changelist_shows_tasks_with_owner_and_tags_in_bounded_queries(
    admin_client, board, django_assert_max_num_queries
):
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        response = admin_client.get(TASKS)
    assert response.status_code == 200
    assert titles(response) == {task.title for task in board.values()}
    page = response.content.decode()
    assert "alice@example.com" in page and "work" in page
    assert "Todo administration" in page  # the site header names the product


def test_changelist_query_count_does_not_grow_with_rows(admin_client, alice, django_assert_num_queries):
    TaskFactory.create_batch(2, user=alice, tags=["a", "b"])
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        admin_client.get(TASKS)
    TaskFactory.create_batch(30, user=alice, tags=["a", "b", "c"])
    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(TASKS)
    assert len(titles(response)) == 32


def test_changelist_never_counts_the_whole_table(admin_client, board, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        admin_client.get(TASKS)
    counts = [query["sql"] for query in queries.captured_queries if "COUNT(" in query["sql"].upper()]
    assert counts, "the paginator counts (bounded)"
    assert all("LIMIT" in sql.upper() for sql in counts), counts


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", {"overdue", "today", "no_due", "later"}),
        ("status=completed", {"done"}),
        ("priority__exact=3", {"overdue"}),
        ("due=overdue", {"overdue"}),
        ("due=today", {"today"}),
        ("due=none", {"no_due", "done"}),
        ("tag=work", {"today", "done"}),
        ("tag=HOME", {"no_due"}),  # tag names match case-insensitively
        ("q=report", {"overdue"}),
        ("q=dentist", {"no_due"}),  # description
        ("q=bob@example.com", {"done", "later"}),  # the owner's exact email
        ("q=BOB@EXAMPLE.COM", {"done", "later"}),
    ],
)
def test_each_filter_and_search_shows_exactly_the_matching_tasks(
    admin_client, board, query, expected, django_assert_max_num_queries
):
    with django_assert_max_num_queries(MAX_LIST_QUERIES + 1):
        response = admin_client.get(f"{TASKS}?{query}")
    assert response.status_code == 200
    assert titles(response) == {board[name].title for name in expected}


def test_this_week_filter_spans_monday_to_sunday(admin_client, alice):
    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    TaskFactory(user=alice, title="Monday", due_date=monday)
    TaskFactory(user=alice, title="Sunday", due_date=monday + timedelta(days=6))
    TaskFactory(user=alice, title="Next Monday", due_date=monday + timedelta(days=7))
    TaskFactory(user=alice, title="Last Sunday", due_date=monday - timedelta(days=1))
    assert titles(admin_client.get(f"{TASKS}?due=week")) == {"Monday", "Sunday"}


def test_search_by_owner_id_and_owner_filter_show_that_users_tasks(admin_client, board, bob):
    assert titles(admin_client.get(f"{TASKS}?q={bob.pk}")) == {"Done already", "Far future"}
    response = admin_client.get(f"{TASKS}?owner={bob.pk}")
    assert titles(response) == {"Done already", "Far future"}
    assert "bob@example.com" in response.content.decode()  # the chosen owner is named in the filter


@pytest.mark.parametrize("query", ["owner={owner}", "q={owner}", "q=carol@example.com"])
def test_one_owners_tasks_list_newest_created_first(admin_client, query):
    carol = UserFactory(email="carol@example.com")
    now = timezone.now()
    TaskFactory(user=carol, title="Made last week", created_at=now - timedelta(days=7))
    TaskFactory(user=carol, title="Made today", created_at=now)
    TaskFactory(user=carol, title="Imported old one", created_at=now - timedelta(days=30))  # highest id
    page = admin_client.get(f"{TASKS}?{query.format(owner=carol.pk)}").content.decode()
    order = re.findall(r'<th class="field-title"><a href="[^"]+">([^<]+)</a>', page)
    assert order == ["Made today", "Made last week", "Imported old one"]


def test_date_hierarchy_drills_down_by_year_month_and_day(admin_client, alice):
    created = timezone.now() - timedelta(days=400)
    TaskFactory(user=alice, title="Old one", created_at=created)
    TaskFactory(user=alice, title="New one")
    page = admin_client.get(TASKS).content.decode()
    assert f"created_at__year={created.year}" in page
    by_year = admin_client.get(f"{TASKS}?created_at__year={created.year}")
    assert "Old one" in titles(by_year) and "New one" not in titles(by_year)
    assert f"created_at__month={created.month}" in by_year.content.decode()
    by_day = admin_client.get(
        f"{TASKS}?created_at__year={created.year}&created_at__month={created.month}&created_at__day={created.day}"
    )
    assert titles(by_day) == {"Old one"}


def test_capped_count_says_more_than(admin_client, alice, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "COUNT_CAP", 3)
    monkeypatch.setattr(TaskAdmin, "list_per_page", 2)
    TaskFactory.create_batch(5, user=alice)
    page = admin_client.get(TASKS).content.decode()
    assert "more than 3 tasks" in page
    assert "Select all matching tasks" in page and "Select all 4" not in page
    assert "All matching tasks selected" in page
    search = admin_client.get(f"{TASKS}?q=Task").content.decode()
    assert "more than 3 results" in search


def test_change_form_shows_tags_and_read_only_version(admin_client, board, django_assert_max_num_queries):
    task = board["today"]
    with django_assert_max_num_queries(12):
        response = admin_client.get(f"{TASKS}{task.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="tag_names"' in page and 'value="work"' in page
    assert 'name="version"' not in page  # read-only: shown, not editable


def test_change_form_saves_through_the_service(admin_client, board):
    task = board["today"]
    response = admin_client.post(
        f"{TASKS}{task.pk}/change/",
        {
            "title": "  Renamed  ",
            "description": "",
            "completed": "on",
            "priority": Priority.HIGH,
            "due_date_0": "",
            "due_date_1": "",
            "tag_names": "Work, urgent, URGENT",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    task.refresh_from_db()
    assert task.title == "Renamed"
    assert task.completed and task.completed_at is not None
    assert task.version == 2  # one write, one new version, as through the API
    assert sorted(tag.name for tag in task.tags.all()) == ["urgent", "work"]  # existing spelling kept


def test_add_form_creates_a_task_with_tags(admin_client, alice):
    assert admin_client.get(f"{TASKS}add/").status_code == 200
    response = admin_client.post(
        f"{TASKS}add/",
        {
            "user": alice.pk,
            "title": "From the admin",
            "description": "made by staff",
            "priority": Priority.LOW,
            "due_date_0": "2030-01-02",
            "due_date_1": "10:00:00",
            "tag_names": "admin, Admin",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    task = Task.objects.get(title="From the admin")
    assert task.user == alice and task.version == 1
    assert [tag.name for tag in task.tags.all()] == ["admin"]


def test_add_form_refuses_too_many_tags(admin_client, alice):
    response = admin_client.post(
        f"{TASKS}add/",
        {"user": alice.pk, "title": "x", "priority": 0, "tag_names": ",".join(f"t{n}" for n in range(21))},
    )
    assert response.status_code == 200
    assert "at most 20 tags" in response.content.decode()
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "bell\x07title"), ("description", "bell\x07text"), ("tag_names", "ok, bad\x1btag")],
)
def test_add_form_refuses_control_characters_as_the_api_does(admin_client, alice, field, value):
    data = {"user": alice.pk, "title": "Fine", "priority": 0, "tag_names": ""}
    response = admin_client.post(f"{TASKS}add/", {**data, field: value})
    assert response.status_code == 200
    assert "Control characters are not allowed." in response.content.decode()
    assert not Task.objects.exists()


def test_owner_is_chosen_by_autocomplete(admin_client, alice, bob):
    page = admin_client.get(f"{TASKS}add/").content.decode()
    assert "admin-autocomplete" in page
    response = admin_client.get(
        "/admin/autocomplete/",
        {"app_label": "tasks", "model_name": "task", "field_name": "user", "term": "bob@"},
    )
    assert [result["id"] for result in response.json()["results"]] == [bob.pk]


@pytest.mark.parametrize(("action", "completed"), [("complete_tasks", True), ("reopen_tasks", False)])
def test_complete_and_reopen_actions_go_through_the_service(admin_client, board, action, completed):
    chosen = [board["overdue"], board["done"]]  # two owners, one in each state
    response = admin_client.post(
        TASKS, {"action": action, "_selected_action": [task.pk for task in chosen]}, follow=True
    )
    assert "1 task(s)" in response.content.decode()
    for task in chosen:
        before = task.version
        task.refresh_from_db()
        assert task.completed is completed
        assert (task.completed_at is not None) is completed
        assert task.version in {before, before + 1}
    assert sum(task.version for task in chosen) == 3  # exactly the one that changed moved on


def test_delete_action_asks_first_then_deletes(admin_client, board):
    chosen = [board["overdue"].pk, board["done"].pk]
    confirm = admin_client.post(TASKS, {"action": "delete_tasks", "_selected_action": chosen})
    assert confirm.status_code == 200
    assert "Delete 2 task(s)?" in confirm.content.decode()
    assert Task.objects.filter(pk__in=chosen).count() == 2
    done = admin_client.post(
        TASKS, {"action": "delete_tasks", "_selected_action": chosen, "confirm": "yes"}, follow=True
    )
    assert "2 task(s) deleted." in done.content.decode()
    assert not Task.objects.filter(pk__in=chosen).exists()
    assert Task.objects.count() == 3


@pytest.mark.parametrize("action", ["complete_tasks", "reopen_tasks", "delete_tasks"])
def test_an_action_over_too_many_tasks_is_refused(admin_client, board, monkeypatch, action):
    from tasks import admin as task_admin

    monkeypatch.setattr(task_admin, "ACTION_MAX_TASKS", 3)
    response = admin_client.post(
        TASKS,
        {"action": action, "_selected_action": [board["overdue"].pk], "select_across": "1"},
        follow=True,
    )
    assert "An action changes at most 3 tasks" in response.content.decode()
    assert Task.objects.count() == 5
    assert not Task.objects.filter(version__gt=1).exists()


def test_django_delete_selected_is_not_offered(admin_client, board):
    assert "delete_selected" not in admin_client.get(TASKS).content.decode()


def test_delete_view_deletes_one_task(admin_client, board):
    task = board["later"]
    assert admin_client.get(f"{TASKS}{task.pk}/delete/").status_code == 200
    response = admin_client.post(f"{TASKS}{task.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Task.objects.filter(pk=task.pk).exists()


def test_non_staff_user_cannot_open_the_task_admin(client, alice, board):
    client.force_login(alice)
    response = client.get(TASKS)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_anonymous_visitor_is_sent_to_login(client, board):
    response = client.get(f"{TASKS}{board['today'].pk}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- Tags -----------------------------------------------------------------------------------------
def test_tag_changelist_shows_task_counts_in_bounded_queries(
    admin_client, board, django_assert_max_num_queries
):
    TaskFactory.create_batch(3, user=board["today"].user, tags=["work"])
    with django_assert_max_num_queries(MAX_LIST_QUERIES):
        response = admin_client.get(TAGS)
    assert response.status_code == 200
    page = response.content.decode()
    alice_work = Tag.objects.get(user=board["today"].user, key="work")
    assert re.search(rf"tag={alice_work.key}\">4</a>", page)


def tag_names(response) -> list[str]:
    return re.findall(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', response.content.decode())


def test_tag_search_and_owner_filter(admin_client, board, bob):
    assert tag_names(admin_client.get(f"{TAGS}?q=hom")) == ["Home"]
    assert tag_names(admin_client.get(f"{TAGS}?owner={bob.pk}")) == ["work"]


def test_tag_change_page_is_read_only(admin_client, board):
    tag = Tag.objects.get(key="home")
    response = admin_client.get(f"{TAGS}{tag.pk}/change/")
    assert response.status_code == 200
    assert 'name="name"' not in response.content.decode()
    assert admin_client.get(f"{TAGS}add/").status_code == 403


def test_merge_action_merges_two_tags_of_one_user(admin_client, alice):
    first = TaskFactory(user=alice, tags=["errands"])
    second = TaskFactory(user=alice, tags=["shopping"])
    both = TaskFactory(user=alice, tags=["errands", "shopping"])
    errands, shopping = Tag.objects.get(key="errands"), Tag.objects.get(key="shopping")
    response = admin_client.post(
        TAGS, {"action": "merge_tags", "_selected_action": [errands.pk, shopping.pk]}, follow=True
    )
    assert "Merged &#x27;shopping&#x27; into &#x27;errands&#x27;" in response.content.decode()
    assert not Tag.objects.filter(pk=shopping.pk).exists()
    for task in (first, second, both):
        assert [tag.key for tag in task.tags.all()] == ["errands"]
    assert LogEntry.objects.filter(object_id=str(shopping.pk), action_flag=DELETION).exists()


def test_merge_action_refuses_tags_of_two_users(admin_client, board):
    work_tags = list(Tag.objects.filter(key="work").values_list("pk", flat=True))
    assert len(work_tags) == 2
    response = admin_client.post(TAGS, {"action": "merge_tags", "_selected_action": work_tags}, follow=True)
    assert "Only tags of one user can be merged" in response.content.decode()
    assert Tag.objects.filter(key="work").count() == 2


def test_deleting_a_tag_keeps_its_tasks_and_moves_their_version(admin_client, board):
    task = board["today"]
    tag = Tag.objects.get(user=task.user, key="work")
    admin_client.post(TAGS, {"action": "delete_tags", "_selected_action": [tag.pk]})
    task.refresh_from_db()
    assert list(task.tags.all()) == []
    assert task.version == 2


# --- Links built from user data (issue 12) --------------------------------------------------------
def test_tag_links_carry_the_name_url_encoded(admin_client, alice):
    task = TaskFactory(user=alice, tags=["a&owner=x #1 100%"])
    TaskFactory(user=alice, tags=["plain"])
    page = admin_client.get(TAGS).content.decode()
    links = re.findall(r'href="(/admin/tasks/task/\?[^"]+)"', page)
    encoded = [link for link in links if "100%25" in link]
    assert len(encoded) == 1, links
    assert "tag=a%26owner%3Dx+%231+100%25" in encoded[0].replace("&amp;", "&")
    listed = admin_client.get(encoded[0].replace("&amp;", "&"))
    assert listed.status_code == 200
    assert titles(listed) == {task.title}


def test_user_links_to_their_tasks_are_url_encoded(admin_client):
    from accounts.models import User

    odd = User.objects.create_user(id="a.b~c-d_e", email="odd@example.com")
    TaskFactory(user=odd)
    page = admin_client.get(f"/admin/accounts/user/{odd.pk}/change/").content.decode()
    assert "/admin/tasks/task/?owner=a.b~c-d_e" in page
