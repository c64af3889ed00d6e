"""The dashboard's CSV exports: the KPIs for the current filters, and a drill-down's handoffs.
Text that a spreadsheet would read as a formula is prefixed with an apostrophe."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet

from governance.dashboard.maturity import ratings
from governance.dashboard.models import Capability
from governance.dashboard.selectors import Figures
from handoffs.models import Handoff
from portal.timefmt import iso

KPI_HEADER = ["section", "item", "measure", "value", "unit"]
HANDOFF_HEADER = [
    "id",
    "team",
    "trigger",
    "priority",
    "status",
    "contact",
    "assignee",
    "created_at",
    "first_response_due_at",
    "first_responded_at",
    "resolved_at",
    "breached",
    "handed_back",
]


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _minutes(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 60:.1f}"


def _hours(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 3600:.2f}"


def kpi_rows(figures: Figures, capabilities: Sequence[Capability]) -> Iterator[list[Any]]:
    f = figures.filters
    yield ["filters", "period", f.period.label, f"{f.start:%Y-%m-%d}..{f.end:%Y-%m-%d}", ""]
    yield ["filters", "team", "", f.team.name if f.team else "all my teams", ""]
    yield ["filters", "journey", "", f.journey_name or "all journeys", ""]
    h = figures.handoffs
    for name in ("speed_to_lead", "first_response"):
        d = figures.durations[name]
        yield ["handoffs", name, "median", _minutes(d.median), "minutes"]
        yield ["handoffs", name, "p90", _minutes(d.p90), "minutes"]
        yield ["handoffs", name, "measured", d.n, "handoffs"]
    yield ["handoffs", "sla_adherence", "share met", _pct(h.adherence), "%"]
    for section, rows in (
        ("all", [("all", h)]),
        ("by trigger", [(b.label, b.totals) for b in figures.by_trigger]),
        ("by team", [(b.label, b.totals) for b in figures.by_team]),
        ("by priority", [(b.label, b.totals) for b in figures.by_priority]),
    ):
        for item, t in rows:
            for measure in ("raised", "responded", "sla_met", "sla_missed", "breached"):
                yield [f"handoff volume {section}", item, measure, getattr(t, measure), "handoffs"]
            yield [f"handoff volume {section}", item, "resolved", t.resolved, "handoffs"]
            yield [f"handoff volume {section}", item, "handed back", t.handed_back, "handoffs"]
            yield [f"handoff volume {section}", item, "share resolved", _pct(t.resolved_share), "%"]
    for stage in [*figures.stages, figures.stage_total]:
        yield ["loop stages", stage.label, "entered", stage.entered, "stays"]
        yield ["loop stages", stage.label, "drop-off rate", _pct(stage.drop_off), "%"]
        yield ["loop stages", stage.label, "time-in-stage median", _hours(stage.median), "hours"]
        yield ["loop stages", stage.label, "time-in-stage p90", _hours(stage.p90), "hours"]
        yield ["automation mix", stage.label, "automated touches", stage.automated, "messages"]
        yield ["automation mix", stage.label, "human touches", stage.human, "messages"]
    for rule in figures.rules:
        for action, n in sorted(rule.actions.items()):
            yield [
                "suppressed touches",
                f"{rule.kind_label}: {_safe(rule.name)}",
                action,
                n,
                "touches",
            ]
    for rate in figures.outcomes.values():
        yield ["outcomes", rate.label, "rate", _pct(rate.rate), "%"]
        yield ["outcomes", rate.label, "of", rate.denominator, "signals"]
    for rating in ratings(capabilities, figures):
        yield [
            "maturity",
            _safe(rating.capability.name),
            rating.kpi.label,
            rating.value_label,
            rating.level_label,
        ]


def handoff_rows(handoffs: QuerySet[Handoff]) -> Iterator[list[Any]]:
    for h in handoffs.iterator(chunk_size=500):
        yield [
            h.pk,
            h.team.slug,
            h.trigger,
            h.priority,
            h.status,
            _safe(h.contact.name or h.contact.external_id),
            h.assignee.get_username() if h.assignee else "",
            iso(h.created_at),
            iso(h.first_response_due_at),
            iso(h.first_responded_at),
            iso(h.resolved_at),
            "yes" if h.breached else "no",
            "yes" if h.resume_automation and h.resolved_at else "no",
        ]
