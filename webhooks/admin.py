"""Staff view of webhooks: endpoints per user, their disabled state and recent deliveries.

Secrets are never shown nor editable (only their ciphertext is stored). Built for a million rows:
pages by primary key or an index, no unbounded COUNT(*), the user joined, not fetched per row.
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from core.admin_paging import LargeTablePaginator, inexact_count_context
from webhooks import services
from webhooks.models import EVENTS, Webhook, WebhookAttempt


class DisabledFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("failing", "Failing"), ("disabled", "Disabled")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(disabled_at__isnull=True)
        if self.value() == "failing":
            return queryset.filter(disabled_at__isnull=True, failing_since__isnull=False)
        if self.value() == "disabled":
            return queryset.filter(disabled_at__isnull=False)
        return queryset


class EventFilter(admin.SimpleListFilter):
    """Fixed choices: Django's default would run SELECT DISTINCT over every attempt."""

    title = "event"
    parameter_name = "event"

    def lookups(self, request, model_admin):
        return [(name, name) for name in EVENTS]

    def queryset(self, request, queryset):
        return queryset.filter(event=self.value()) if self.value() in EVENTS else queryset


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "url",
        "event_names",
        "created_at",
        "failing_since",
        "disabled_at",
        "deliveries",
    ]
    list_select_related = ["user"]
    list_filter = [DisabledFilter]
    search_fields = ["=user__id", "url"]
    raw_id_fields = ["user"]
    ordering = ["-id"]
    # The secret's ciphertext and the worker's lease are not staff business.
    fields = ["user", "url", "events", "created_at", "failing_since", "disabled_at"]
    readonly_fields = fields
    actions = ["enable_webhooks"]
    paginator = LargeTablePaginator
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("secret_encrypted")

    def has_add_permission(self, request) -> bool:
        return False  # a webhook's secret is shown once, to its owner: only the API creates them

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="events")
    def event_names(self, webhook: Webhook) -> str:
        return ", ".join(webhook.events)

    @admin.display(description="recent deliveries")
    def deliveries(self, webhook: Webhook) -> str:
        url = reverse("admin:webhooks_webhookattempt_changelist") + f"?webhook__id__exact={webhook.pk}"
        return format_html('<a href="{}">attempts</a>', url)

    def get_deleted_objects(self, objs, request):
        """Name the webhooks only: listing every message and attempt (millions, perhaps) would not
        render, and they go with their webhook by design."""
        objs = list(objs)
        return (
            [f"{obj} (with its messages and delivery attempts)" for obj in objs],
            {"webhooks": len(objs)},
            set(),
            [],
        )

    def delete_model(self, request, obj: Webhook) -> None:
        services.webhook_delete(user=obj.user, webhook_id=obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for webhook in queryset.select_related("user")[:1000]:
            services.webhook_delete(user=webhook.user, webhook_id=webhook.pk)

    @admin.action(description="Enable the selected webhooks again")
    def enable_webhooks(self, request, queryset) -> None:
        count = services.webhooks_enable(webhook_ids=list(queryset.values_list("pk", flat=True)[:1000]))
        self.message_user(request, f"Enabled {count} webhook(s).", messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        inexact_count_context(response, "webhooks")
        return response


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    """The attempts log, read-only, newest first (by id: the primary key, or the (webhook, id) index
    when filtered by webhook from the webhook list's link)."""

    list_display = ["id", "webhook_id", "message_id", "event", "attempt", "status_code", "error", "at"]
    list_filter = [EventFilter]
    search_fields = ["=message_id"]
    ordering = ["-id"]
    paginator = LargeTablePaginator
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        return lookup == "webhook__id__exact" or super().lookup_allowed(lookup, value, request)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        inexact_count_context(response, "attempts")
        return response
