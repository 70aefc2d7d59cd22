"""Staff views of push subscriptions, reminders and their deliveries (docs/NOTIFICATIONS.md).

Built for a million rows: lists sort by the primary key, never count a whole table
(LargeTablePaginator), filter by owner through `?owner=<id>` (never a list of every user), and
count a reminder's failed deliveries with one correlated subquery per row of the page. Reminders
and deliveries are read-only here: the task services write reminders, the worker their deliveries.
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User
from core.admin_paging import LargeTablePaginator, correlated_count
from notifications.models import DeliveryState, PushSubscription, ReminderDelivery
from tasks.admin_filters import OwnerFilter
from tasks.models import Reminder


class _LargeTable(admin.ModelAdmin):
    paginator = LargeTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    ordering = ["-id"]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(_LargeTable):
    list_display = ["id", "user", "push_service", "created_at", "last_success_at"]
    list_filter = [OwnerFilter]
    search_fields = ["=user__id", "=user__email"]
    search_help_text = "An owner's exact id or email."
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    fields = ["user", "endpoint", "p256dh", "auth", "created_at", "last_success_at"]
    readonly_fields = fields
    sortable_by = ["id", "created_at"]

    def has_add_permission(self, request):
        return False  # subscriptions come from browsers (POST /api/{user_id}/push-subscriptions/)

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="push service")
    def push_service(self, subscription: PushSubscription) -> str:
        return (
            subscription.endpoint.split("/", 3)[2]
            if "://" in subscription.endpoint
            else subscription.endpoint
        )


class DeliveryInline(admin.TabularInline):
    model = ReminderDelivery
    fields = [
        "endpoint_origin",
        "subscription",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "next_attempt_at",
        "sent_at",
    ]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return Reminder._meta.get_field("state").choices

    def queryset(self, request, queryset):
        return queryset.filter(state=self.value()) if self.value() else queryset


@admin.register(Reminder)
class ReminderAdmin(_LargeTable):
    list_display = ["id", "task_link", "user", "state", "fire_at", "sent_at", "failed_pushes"]
    list_filter = [StateFilter, OwnerFilter]
    search_fields = ["=user__id", "=user__email", "=task__id"]
    search_help_text = "An owner's exact id or email, or a task id."
    list_select_related = ["user", "task"]
    raw_id_fields = ["task", "user"]
    fields = ["task", "user", "position", "before", "at", "fire_at", "state", "sent_at", "claimed_until"]
    readonly_fields = fields
    sortable_by = ["id", "fire_at"]
    inlines = [DeliveryInline]

    def get_queryset(self, request):
        failed = ReminderDelivery.objects.filter(state=DeliveryState.FAILED)
        return super().get_queryset(request).annotate(failed_count=correlated_count(failed, "reminder"))

    def has_add_permission(self, request):
        return False  # written by the task services, with their task

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="task")
    def task_link(self, reminder: Reminder):
        url = reverse("admin:tasks_task_change", args=[reminder.task_id])
        return format_html('<a href="{}">{}</a>', url, reminder.task.title)

    @admin.display(description="failed pushes")
    def failed_pushes(self, reminder: Reminder):
        if not reminder.failed_count:
            return "0"
        url = (
            reverse("admin:notifications_reminderdelivery_changelist")
            + "?"
            + urlencode({"reminder__id__exact": reminder.pk, "state": DeliveryState.FAILED})
        )
        return format_html('<a href="{}">{}</a>', url, reminder.failed_count)


class DeliveryStateFilter(StateFilter):
    def lookups(self, request, model_admin):
        return DeliveryState.choices


@admin.register(ReminderDelivery)
class ReminderDeliveryAdmin(_LargeTable):
    """Every push of every reminder; filter by state `failed` to see what the push services refused."""

    list_display = [
        "id",
        "reminder",
        "endpoint_origin",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "updated_at",
    ]
    list_filter = [DeliveryStateFilter]
    search_fields = ["=reminder__id", "=reminder__user__id", "=reminder__user__email"]
    search_help_text = "A reminder id, or its owner's exact id or email."
    raw_id_fields = ["reminder", "subscription"]
    readonly_fields = [field.name for field in ReminderDelivery._meta.fields]
    sortable_by = ["id", "updated_at"]

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "reminder__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The user page links to the user's subscriptions: the admin registered for User (accounts', as
# extended by tasks) gains one read-only field, without accounts or tasks knowing of this app.
_UserAdmin = type(admin.site._registry[User])


class UserWithPushAdmin(_UserAdmin):
    readonly_fields = [*_UserAdmin.readonly_fields, "push_subscriptions_link"]
    fieldsets = [
        (name, {**options, "fields": [*options["fields"], "push_subscriptions_link"]})
        if name == "Profile"
        else (name, options)
        for name, options in _UserAdmin.fieldsets
    ]

    @admin.display(description="push subscriptions")
    def push_subscriptions_link(self, user: User):
        count = PushSubscription.objects.filter(user=user).count() if user.pk else 0
        url = reverse("admin:notifications_pushsubscription_changelist") + "?" + urlencode({"owner": user.pk})
        return format_html('<a href="{}">{} subscription{}</a>', url, count, "" if count == 1 else "s")


admin.site.unregister(User)
admin.site.register(User, UserWithPushAdmin)
