"""The task changelist's filters and its calendar date drill-down (tasks/admin.py), each answered
by bounded queries so that the list stays fast on a million rows."""

from calendar import month_name, monthrange
from datetime import timedelta

from django.contrib import admin
from django.utils import timezone

from accounts.models import User
from tasks.models import Tag


def calendar_date_hierarchy(changelist, oldest) -> dict:
    """The date drill-down of the changelist as a calendar, with no query over the rows.

    Django's own runs MIN/MAX and SELECT DISTINCT date_trunc(...) over every matching row: seconds
    on a million tasks. This lists the years from `oldest` to now, the months of a year and the
    days of a month; a period without tasks shows an empty list when chosen.
    """
    field = changelist.date_hierarchy
    names = {"year": f"{field}__year", "month": f"{field}__month", "day": f"{field}__day"}

    def value(name):
        try:
            return int(changelist.params.get(names[name]))
        except (TypeError, ValueError):
            return None

    def link(filters):
        return changelist.get_query_string(filters, [f"{field}__"])

    year, month, day = value("year"), value("month"), value("day")
    today = timezone.localdate()
    if year and month and day:
        return {
            "show": True,
            "back": {
                "link": link({names["year"]: year, names["month"]: month}),
                "title": f"{month_name[month]} {year}",
            },
            "choices": [{"title": f"{month_name[month]} {day}"}],
        }
    if year and month:
        last = monthrange(year, month)[1] if (year, month) != (today.year, today.month) else today.day
        return {
            "show": True,
            "back": {"link": link({names["year"]: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({names["year"]: year, names["month"]: month, names["day"]: d}),
                    "title": f"{month_name[month]} {d}",
                }
                for d in range(1, last + 1)
            ],
        }
    if year:
        last = 12 if year != today.year else today.month
        return {
            "show": True,
            "back": {"link": link({}), "title": "All dates"},
            "choices": [
                {"link": link({names["year"]: year, names["month"]: m}), "title": f"{month_name[m]} {year}"}
                for m in range(1, last + 1)
            ],
        }
    first_year = min(timezone.localtime(oldest).year, today.year) if oldest else today.year
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({names["year"]: y}), "title": str(y)} for y in range(first_year, today.year + 1)
        ],
    }


# --- Task list filters ----------------------------------------------------------------------------
class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("completed", "Completed")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.pending()
        if self.value() == "completed":
            return queryset.completed()
        return queryset


class DueFilter(admin.SimpleListFilter):
    """Due date relative to now, in the site's time zone; a week starts on Monday."""

    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("today", "Today"), ("week", "This week"), ("none", "No due date")]

    def queryset(self, request, queryset):
        now = timezone.localtime()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        match self.value():
            case "overdue":
                return queryset.overdue(now)
            case "today":
                return queryset.filter(due_date__gte=midnight, due_date__lt=midnight + timedelta(days=1))
            case "week":
                monday = midnight - timedelta(days=midnight.weekday())
                return queryset.filter(due_date__gte=monday, due_date__lt=monday + timedelta(days=7))
            case "none":
                return queryset.filter(due_date__isnull=True)
        return queryset


class OwnerFilter(admin.SimpleListFilter):
    """Tasks of one user (`?owner=<id>`, the link from the user list). Only the chosen owner is
    listed as a choice: listing every user would not scale."""

    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        user = User.objects.filter(pk=self.value()).first() if self.value() else None
        return [(user.pk, str(user))] if user else []

    def queryset(self, request, queryset):
        return queryset.filter(user_id=self.value()) if self.value() else queryset


class TagFilter(admin.SimpleListFilter):
    """Tasks carrying a tag, matched case-insensitively by name across users.

    The choices are the owner's tags when the list is filtered to one owner, else the names of
    the most recently created tags (a bounded query, not a scan of every tag).
    """

    title = "tag"
    parameter_name = "tag"
    RECENT = 500
    SHOWN = 20

    def lookups(self, request, model_admin):
        owner = request.GET.get(OwnerFilter.parameter_name)
        if owner:
            tags = Tag.objects.filter(user_id=owner).order_by("key").values_list("key", "name")[:100]
            return list(dict(tags).items())
        recent = Tag.objects.order_by("-id").values_list("key", "name")[: self.RECENT]
        names: dict[str, str] = {}
        for key, name in recent:
            names.setdefault(key, name)
        choices = sorted(names.items())[: self.SHOWN]
        if self.value() and self.value() not in names:
            choices.append((self.value(), self.value()))
        return choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(tags__key=self.value().casefold())
        return queryset
