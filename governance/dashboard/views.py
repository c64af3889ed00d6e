"""The governance dashboard (/governance/), its CSV export and the drill-down lists. Views parse
the filters, call the selectors and render; htmx requests get the body fragment only."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from governance.dashboard import csvexport
from governance.dashboard.charts import trend_charts
from governance.dashboard.definitions import (
    DEFINITIONS,
    HANDOFF_METRICS,
    OUTCOME_HOVER,
    OUTCOME_RATES,
)
from governance.dashboard.maturity import ratings
from governance.dashboard.selectors import (
    PRIORITY_LABELS,
    TRIGGER_LABELS,
    capabilities,
    dashboard_figures,
    dashboard_filters,
    drilldown_parse,
    handoffs_behind,
)
from portal.periods import PRESETS

# Every tile's title and definition: PRODUCT.md's, and how each outcome rate is taken.
HOVER = {
    **DEFINITIONS,
    **{key: (OUTCOME_RATES[key][0], text) for key, text in OUTCOME_HOVER.items()},
}
DASHBOARD_PRESETS = {k: v for k, v in PRESETS.items() if k in ("7d", "30d", "90d")}
PAGE_SIZE = 50


@login_required
@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    filters, error = dashboard_filters(user=request.user, query=request.GET)
    context: dict[str, Any] = {
        "filters": filters,
        "period": filters.period,
        "period_error": error,
        "presets": DASHBOARD_PRESETS,
        "definitions": HOVER,
    }
    if filters.teams:
        figures = dashboard_figures(filters=filters)
        context.update(
            figures=figures,
            charts=trend_charts(figures.trend, filters.step),
            ratings=ratings(capabilities(), figures),
        )
    template = "governance/dashboard/dashboard.html"
    if request.htmx and not request.htmx.boosted:
        template += "#body"
    status = 400 if error and not request.htmx else 200
    return render(request, template, context, status=status)


@login_required
@require_GET
def export_view(request: HttpRequest) -> HttpResponse:
    filters, _ = dashboard_filters(user=request.user, query=request.GET)
    rows = (
        csvexport.kpi_rows(dashboard_figures(filters=filters), capabilities())
        if filters.teams
        else []
    )
    name = f"baton-dashboard-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
    return _csv(name, csvexport.KPI_HEADER, rows)


@login_required
@require_GET
def drilldown_view(request: HttpRequest) -> HttpResponse:
    filters, error = dashboard_filters(user=request.user, query=request.GET)
    drill = drilldown_parse(request.GET)
    handoffs = handoffs_behind(filters=filters, drill=drill)
    if request.GET.get("format") == "csv":
        name = f"baton-handoffs-{drill.metric}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
        return _csv(name, csvexport.HANDOFF_HEADER, csvexport.handoff_rows(handoffs))
    page = Paginator(handoffs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "filters": filters,
        "period_error": error,
        "drill": drill,
        "page": page,
        "metrics": HANDOFF_METRICS,
        "trigger_label": TRIGGER_LABELS.get(drill.trigger, ""),
        "priority_label": PRIORITY_LABELS.get(drill.priority, ""),
    }
    return render(request, "governance/dashboard/drilldown.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(filename: str, header: list[str], rows: Any) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
