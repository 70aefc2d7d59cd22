"""The user admin with each user's task count and a link to their tasks: the tasks app extends
accounts' UserAdmin (registered again in tasks/admin.py), so accounts never imports tasks.

Built for a large table: the count is one correlated subquery per row of the page, never a
GROUP BY over every task.
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin import UserAdmin
from accounts.models import User
from core.admin_paging import correlated_count
from tasks.models import Task


def _with_tasks(fieldsets: list) -> list:
    return [
        (name, {**options, "fields": [*options["fields"], "tasks_link"]})
        if name == "Profile"
        else (name, options)
        for name, options in fieldsets
    ]


class UserWithTasksAdmin(UserAdmin):
    list_display = [*UserAdmin.list_display, "tasks_link"]
    readonly_fields = [*UserAdmin.readonly_fields, "tasks_link"]
    fieldsets = _with_tasks(UserAdmin.fieldsets)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(task_count=correlated_count(Task.objects, "user"))

    @admin.display(description="tasks")
    def tasks_link(self, user: User):
        count = getattr(user, "task_count", None)
        if count is None:  # the add form's preview has no annotation
            count = Task.objects.filter(user=user).count() if user.pk else 0
        url = reverse("admin:tasks_task_changelist") + "?" + urlencode({"owner": user.pk})
        return format_html('<a href="{}">{} task{}</a>', url, count, "" if count == 1 else "s")
