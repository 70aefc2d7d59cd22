"""Staff moderation of tasks and tags. Every write goes through tasks.services, as the API's do.

Built for a million-row table: lists sort by the primary key (an index), never count the whole
table (see LargeTablePaginator), fetch tags for a page in one query, and offer filters whose
choices come from bounded queries.
"""

from collections import defaultdict
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.models import User
from core.admin_paging import LargeTablePaginator, correlated_count, inexact_count_context
from tasks import rules
from tasks.admin_filters import DueFilter, OwnerFilter, StatusFilter, TagFilter, calendar_date_hierarchy
from tasks.admin_users import UserWithTasksAdmin
from tasks.models import Reminder, Tag, Task
from tasks.rules import MAX_TAGS_PER_TASK
from tasks.services import tag_delete, tags_merge, task_create, task_delete, task_update, tasks_bulk

TaskThrough = Task.tags.through
# Ids handed to one service call: bounded so that `pk IN (...)` stays within SQLite's limits.
ACTION_CHUNK = 500
# Tasks one admin action may change: a bigger job (say "select all" over a million rows) belongs
# to a command such as purge_tasks, not to one web request.
ACTION_MAX_TASKS = 10_000


# --- Task form ------------------------------------------------------------------------------------
class TaskAdminForm(forms.ModelForm):
    """The task's fields, with tags typed as names (a select of every tag would not scale)."""

    tag_names = forms.CharField(
        label="Tags",
        required=False,
        help_text=f"Comma-separated names; case-insensitive duplicates merge; at most {MAX_TAGS_PER_TASK}.",
        widget=forms.TextInput(attrs={"size": 60}),
    )

    class Meta:
        model = Task
        fields = ["user", "title", "description", "completed", "priority", "due_date"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["tag_names"].initial = ", ".join(tag.name for tag in self.instance.tags.all())

    # The rules of tasks/rules.py, as the API applies them.
    def clean_title(self) -> str:
        return rules.clean_title(self.cleaned_data["title"])

    def clean_description(self) -> str:
        return rules.clean_description(self.cleaned_data["description"])

    def clean_tag_names(self) -> list[str]:
        names = [name for name in self.cleaned_data["tag_names"].split(",") if name.strip()]
        for name in names:
            try:
                rules.clean_tag_name(name)
            except ValidationError as error:  # name the tag: the field holds many
                raise ValidationError(f"Tag {name.strip()[:20]!r}: {error.messages[0]}") from None
        return rules.clean_tag_names(names)


def _copy_into(target: Task, source: Task) -> None:
    """Make the admin's instance the saved task, so the admin's messages and log name it."""
    for field in Task._meta.concrete_fields:
        if field.attname in source.__dict__:  # not the ones the row left out (change_seq): no query
            setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


def _owner_ids(queryset) -> dict[str, list[int]]:
    ids_by_owner: dict[str, list[int]] = defaultdict(list)
    for task_id, owner_id in queryset.order_by().values_list("pk", "user_id"):
        ids_by_owner[owner_id].append(task_id)
    return ids_by_owner


def tasks_bulk_across_owners(queryset, action: str) -> int:
    """Run tasks_bulk for each owner of the selected tasks, in bounded chunks. Returns affected."""
    affected = 0
    for owner_id, task_ids in _owner_ids(queryset).items():
        owner = User(pk=owner_id)
        for start in range(0, len(task_ids), ACTION_CHUNK):
            affected += tasks_bulk(
                user=owner, action=action, ids=task_ids[start : start + ACTION_CHUNK]
            ).affected
    return affected


class ReminderInline(admin.TabularInline):
    """A task's reminders, as the worker sees them. Read-only: the API's services write them, and
    the worker moves their state."""

    model = Reminder
    fields = ["position", "before", "at", "fire_at", "state", "sent_at"]
    readonly_fields = fields
    ordering = ["position"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    form = TaskAdminForm
    inlines = [ReminderInline]
    list_display = ["title", "owner", "completed", "priority", "due_date", "tag_list", "created_at"]
    list_display_links = ["title"]
    list_filter = [StatusFilter, "priority", DueFilter, TagFilter, OwnerFilter]
    search_fields = ["title", "description"]
    search_help_text = "An owner's exact id or email, or words in the title or description."
    date_hierarchy = "created_at"
    autocomplete_fields = ["user"]
    list_select_related = ["user"]
    readonly_fields = [
        "completed_at",
        "recurrence",
        "timezone",
        "next_task",
        "version",
        "created_at",
        "updated_at",
    ]
    fields = [
        "user",
        "title",
        "description",
        "completed",
        "completed_at",
        "priority",
        "due_date",
        "tag_names",
        "recurrence",
        "timezone",
        "next_task",
        "version",
        "created_at",
        "updated_at",
    ]
    # The primary key is an index; created_at alone is not (every index leads with the owner).
    ordering = ["-id"]
    sortable_by = ["title", "completed", "priority", "due_date", "created_at"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    # Rendering a row (its checkbox widget above all) costs more than fetching it; 50 keeps a page quick.
    list_per_page = 50
    actions = ["complete_tasks", "reopen_tasks", "delete_tasks"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).prefetch_related(Prefetch("tags", Tag.objects.only("id", "name")))
        )

    def get_ordering(self, request):
        # One owner's tasks: newest first along the (user, created_at, id) index. Walking the
        # primary key instead may pass most of the table before it finds that owner's rows.
        if request.GET.get(OwnerFilter.parameter_name):
            return ["-created_at", "-id"]
        return self.ordering

    def get_readonly_fields(self, request, obj=None):
        # Moving a task to another owner is reassign_tasks' job (it merges tags too).
        return [*self.readonly_fields, "user"] if obj is not None else self.readonly_fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it deletes without the service
        return actions

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        inexact_count_context(response, "tasks")
        context = getattr(response, "context_data", None)
        if context and context.get("cl") is not None:
            # Ids grow with time, so the first task by id is (about) the oldest: one index probe.
            oldest = Task.objects.order_by("pk").values_list("created_at", flat=True).first()
            context["calendar_hierarchy"] = calendar_date_hierarchy(context["cl"], oldest)
        return response

    def get_search_results(self, request, queryset, search_term):
        """A user's exact id or email shows that user's tasks (through the owner index); any other
        text is looked for in titles and descriptions."""
        term = search_term.strip()
        if term and " " not in term:
            owners = list(
                User.objects.filter(Q(pk=term) | Q(email__iexact=term)).values_list("pk", flat=True)[:20]
            )
            if owners:
                queryset = queryset.filter(user_id__in=owners)
                if ORDER_VAR not in request.GET:  # the list was ordered before the search: see get_ordering
                    queryset = queryset.order_by("-created_at", "-id")
                return queryset, False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="owner", ordering="user__email")
    def owner(self, task: Task):
        url = reverse("admin:accounts_user_change", args=[task.user_id])
        return format_html('<a href="{}">{}</a>', url, task.user)

    @admin.display(description="next task")
    def next_task(self, task: Task):
        """The occurrence completing this task spawned (its number stays if that task was deleted)."""
        if task.next_task_id is None:
            return "-"
        url = reverse("admin:tasks_task_change", args=[task.next_task_id])
        return format_html('<a href="{}">#{}</a>', url, task.next_task_id)

    @admin.display(description="tags")
    def tag_list(self, task: Task):
        return format_html_join(", ", "{}", ((tag.name,) for tag in task.tags.all()))

    # --- writes through the services ---
    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            task = task_create(
                user=data["user"],
                title=data["title"],
                description=data["description"],
                completed=data["completed"],
                priority=data["priority"],
                due_date=data["due_date"],
                tags=data["tag_names"],
            )
        else:
            fields = ["title", "description", "completed", "priority", "due_date"]
            changes = {field: data[field] for field in fields if field in form.changed_data}
            if "tag_names" in form.changed_data:
                changes["tags"] = data["tag_names"]
            task = task_update(user=obj.user, task_id=obj.pk, changes=changes)
        _copy_into(obj, task)

    def save_related(self, request, form, formsets, change):
        # Tags were written by the service; the form has no many-to-many field left to save.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        task_delete(user=obj.user, task_id=obj.pk)

    def delete_queryset(self, request, queryset):
        tasks_bulk_across_owners(queryset, "delete")

    def _too_many(self, request, queryset) -> bool:
        if queryset.order_by().values("pk")[: ACTION_MAX_TASKS + 1].count() > ACTION_MAX_TASKS:
            self.message_user(
                request,
                f"An action changes at most {ACTION_MAX_TASKS} tasks; narrow the list, or use a command "
                "(purge_tasks, reassign_tasks).",
                messages.ERROR,
            )
            return True
        return False

    @admin.action(description="Mark selected tasks as completed", permissions=["change"])
    def complete_tasks(self, request, queryset):
        if self._too_many(request, queryset):
            return
        count = tasks_bulk_across_owners(queryset, "complete")
        self.message_user(request, f"{count} task(s) marked as completed.", messages.SUCCESS)

    @admin.action(description="Reopen selected tasks", permissions=["change"])
    def reopen_tasks(self, request, queryset):
        if self._too_many(request, queryset):
            return
        count = tasks_bulk_across_owners(queryset, "reopen")
        self.message_user(request, f"{count} task(s) reopened.", messages.SUCCESS)

    @admin.action(description="Delete selected tasks", permissions=["delete"])
    def delete_tasks(self, request, queryset):
        """Asks for confirmation first, like Django's own delete action."""
        if self._too_many(request, queryset):
            return None
        if request.POST.get("confirm") == "yes":
            count = tasks_bulk_across_owners(queryset, "delete")
            self.message_user(request, f"{count} task(s) deleted.", messages.SUCCESS)
            return None
        selected = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
        select_across = request.POST.get("select_across", "0")
        context = {
            **self.admin_site.each_context(request),
            "title": "Delete tasks: are you sure?",
            "opts": self.model._meta,
            "count": len(selected) if select_across == "0" else "all matching",
            "preview": list(queryset.select_related("user")[:20]),
            "selected": selected,
            "select_across": select_across,
            "action": "delete_tasks",
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "query_string": request.GET.urlencode(),
        }
        return TemplateResponse(request, "admin/tasks/task/delete_tasks_confirmation.html", context)


# --- Tags -----------------------------------------------------------------------------------------
@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Tags are named by their users through the API; staff see them, merge and delete them."""

    list_display = ["name", "owner", "task_count"]
    list_select_related = ["user"]
    search_fields = ["name", "=user__email", "=user__id"]
    search_help_text = "Tag name (contains), or the owner's exact email or id."
    list_filter = [OwnerFilter]
    readonly_fields = ["user", "name", "key", "task_count"]
    fields = ["user", "name", "key", "task_count"]
    ordering = ["-id"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ["merge_tags", "delete_tags"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(task_count=correlated_count(TaskThrough.objects, "tag_id"))
        )

    def has_add_permission(self, request):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        inexact_count_context(response, "tags")
        return response

    @admin.display(description="owner", ordering="user__email")
    def owner(self, tag: Tag):
        url = reverse("admin:accounts_user_change", args=[tag.user_id])
        return format_html('<a href="{}">{}</a>', url, tag.user)

    @admin.display(description="tasks")
    def task_count(self, tag: Tag):
        # Tag names are user data: "a&b", "#x" or "100%" must arrive as typed, not cut the query.
        url = reverse("admin:tasks_task_changelist") + "?" + urlencode({"owner": tag.user_id, "tag": tag.key})
        return format_html('<a href="{}">{}</a>', url, tag.task_count)

    def delete_model(self, request, obj):
        tag_delete(tag=obj)

    def delete_queryset(self, request, queryset):
        for tag in queryset:
            tag_delete(tag=tag)

    @admin.action(
        description="Merge selected tags (of one user) into the oldest of them", permissions=["change"]
    )
    def merge_tags(self, request, queryset):
        tags = list(queryset.order_by("id")[: MAX_TAGS_PER_TASK + 1])
        if len(tags) < 2:
            self.message_user(request, "Select at least two tags of one user to merge.", messages.ERROR)
            return
        if len(tags) > MAX_TAGS_PER_TASK or len({tag.user_id for tag in tags}) != 1:
            self.message_user(
                request, "Only tags of one user can be merged (at most 20 at once).", messages.ERROR
            )
            return
        target, *sources = tags
        names = ", ".join(repr(tag.name) for tag in sources)
        self.log_deletions(request, sources)  # before the merge deletes them, as Django asks
        moved = sum(tags_merge(source=source, target=target) for source in sources)
        self.log_change(request, target, f"Merged {names} into this tag.")
        self.message_user(
            request, f"Merged {names} into {target.name!r}; {moved} task(s) now carry it.", messages.SUCCESS
        )

    @admin.action(description="Delete selected tags (their tasks keep existing)", permissions=["delete"])
    def delete_tags(self, request, queryset):
        tags = list(queryset.order_by()[:1000])
        self.log_deletions(request, tags)
        for tag in tags:
            tag_delete(tag=tag)
        self.message_user(request, f"{len(tags)} tag(s) deleted.", messages.SUCCESS)


admin.site.unregister(User)
admin.site.register(User, UserWithTasksAdmin)
