"""Admin changelists that stay fast on tables of millions of rows: paging without an unbounded
COUNT(*), and per-row counts of related rows."""

from functools import cached_property

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce


class LargeTablePaginator(Paginator):
    """A paginator that never counts a whole large table.

    Unfiltered on PostgreSQL it uses the planner's row estimate (`pg_class.reltuples`, kept fresh
    by autovacuum); otherwise it counts at most COUNT_CAP + 1 rows. The templates say "about" or
    "more than" accordingly.
    """

    COUNT_CAP = 10_000
    count_is_estimate = False
    count_is_capped = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if connection.vendor == "postgresql" and not queryset.query.where:
            estimate = _estimated_rows(queryset.model)
            if estimate > self.COUNT_CAP:
                self.count_is_estimate = True
                return estimate
        counted = queryset.order_by().values("pk")[: self.COUNT_CAP + 1].count()
        self.count_is_capped = counted > self.COUNT_CAP
        return counted


def _estimated_rows(model) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table]
        )
        row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0  # -1 until the table is first analyzed


def inexact_count_context(response, paginator_holder) -> None:
    """'All 10001 selected' would be wrong when the count is capped or estimated."""
    context = getattr(response, "context_data", None) or {}
    changelist = context.get("cl")
    if changelist is None:
        return
    paginator = changelist.paginator
    if getattr(paginator, "count_is_estimate", False) or getattr(paginator, "count_is_capped", False):
        context["selection_note_all"] = f"All matching {paginator_holder} selected"


def correlated_count(related: QuerySet, column: str):
    """How many rows of `related` point at each row of the page (`column` = its key), as one
    correlated subquery per row: never a GROUP BY over the whole related table. 0 when none."""
    count = (
        related.filter(**{column: OuterRef("pk")})
        .order_by()
        .values(column)
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(count, output_field=IntegerField()), 0)
