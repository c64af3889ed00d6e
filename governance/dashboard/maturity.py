"""The hybrid-journey maturity panel: each capability's primary KPI measured from the rollups
over the dashboard's period, and its level from the thresholds ops set (docs/dashboard.md).

A KPI where higher is better reaches a level when its value is at or above that level's
threshold; one where lower is better (durations, drop-off, stops) when at or below it. With no
data for the KPI in the period the capability is "not measured", never rated ad hoc."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from governance.dashboard.choices import Kpi, Level

if TYPE_CHECKING:
    from governance.dashboard.models import Capability
    from governance.dashboard.selectors import Figures


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100


def _minutes(figures: Figures, key: str) -> float | None:
    median = figures.durations[key].median
    return None if median is None else median.total_seconds() / 60


@dataclass(frozen=True)
class KpiSpec:
    label: str
    unit: str  # shown after the value: "%", "min", "h", ""
    higher: bool  # higher is better
    measure: Callable[[Figures], float | None]


KPIS: dict[str, KpiSpec] = {
    Kpi.DROP_OFF_RATE: KpiSpec("Drop-off rate", "%", False, lambda f: _pct(f.stage_total.drop_off)),
    Kpi.TIME_IN_STAGE_MEDIAN: KpiSpec(
        "Time-in-stage (median)",
        "h",
        False,
        lambda f: (
            None if f.stage_total.median is None else f.stage_total.median.total_seconds() / 3600
        ),
    ),
    Kpi.SPEED_TO_LEAD_MEDIAN: KpiSpec(
        "Speed-to-lead (median)", "min", False, lambda f: _minutes(f, "speed_to_lead")
    ),
    Kpi.FIRST_RESPONSE_MEDIAN: KpiSpec(
        "First response (median)", "min", False, lambda f: _minutes(f, "first_response")
    ),
    Kpi.SLA_ADHERENCE: KpiSpec("SLA adherence", "%", True, lambda f: _pct(f.handoffs.adherence)),
    Kpi.MEETING_RATE: KpiSpec(
        "Meeting rate", "%", True, lambda f: _pct(f.outcomes["meeting_rate"].rate)
    ),
    Kpi.WIN_RATE: KpiSpec("Win rate", "%", True, lambda f: _pct(f.outcomes["win_rate"].rate)),
    Kpi.RENEWAL_RATE: KpiSpec(
        "Renewal rate", "%", True, lambda f: _pct(f.outcomes["renewal_rate"].rate)
    ),
    Kpi.REPLY_RATE: KpiSpec(
        "Replies per 100 automated touches", "", True, lambda f: _pct(f.mix_total.reply_rate)
    ),
    Kpi.SUPPRESSION_RATE: KpiSpec(
        "Touches stopped by governance", "%", False, lambda f: _pct(f.stop_rate)
    ),
    Kpi.AUTOMATION_SHARE: KpiSpec(
        "Automation share of touches", "%", True, lambda f: _pct(f.mix_total.automated_share)
    ),
    Kpi.HANDBACK_RATE: KpiSpec(
        "Handed back to automation", "%", True, lambda f: _pct(f.handoffs.handback_rate)
    ),
}


def thresholds_problem(thresholds: Sequence[float], *, higher_is_better: bool) -> str | None:
    """Why four thresholds (developing, defined, managed, operationalised) cannot rate, if so."""
    pairs = list(pairwise(thresholds))
    if higher_is_better and any(b < a for a, b in pairs):
        return "For this KPI higher is better: each level's threshold must be at least the last."
    if not higher_is_better and any(b > a for a, b in pairs):
        return "For this KPI lower is better: each level's threshold must be at most the last."
    return None


def level_for(value: float | None, thresholds: Sequence[float], *, higher: bool) -> int | None:
    """The level (1 ad hoc … 5 operationalised) a KPI value reaches; None without a value."""
    if value is None:
        return None
    reached = sum(1 for t in thresholds if (value >= t if higher else value <= t))
    return Level.AD_HOC + reached


@dataclass(frozen=True)
class Rating:
    capability: Capability
    kpi: KpiSpec
    value: float | None
    level: int | None

    @property
    def level_label(self) -> str:
        return "Not measured yet" if self.level is None else Level(self.level).label

    @property
    def value_label(self) -> str:
        if self.value is None:
            return "—"
        number = f"{self.value:.0f}" if abs(self.value) >= 10 else f"{self.value:.1f}"
        if self.kpi.unit == "%":
            return f"{number}%"
        return f"{number} {self.kpi.unit}".strip()

    @property
    def steps(self) -> list[tuple[str, str, bool]]:
        """The five levels with the threshold that reaches each, and whether it is reached."""
        sign = "≥" if self.kpi.higher else "≤"
        marks = ["", *(f"{sign} {t:g}" for t in self.capability.thresholds)]
        return [
            (label, marks[i], self.level is not None and value <= self.level)
            for i, (value, label) in enumerate(Level.choices)
        ]


def ratings(capabilities: Sequence[Capability], figures: Figures) -> list[Rating]:
    rated = []
    for capability in capabilities:
        spec = KPIS.get(capability.kpi)
        if spec is None:
            continue
        value = spec.measure(figures)
        level = level_for(value, capability.thresholds, higher=spec.higher)
        rated.append(Rating(capability, spec, value, level))
    return rated


def capabilities_ensure() -> int:
    """Recreate any of the six capabilities that is missing (migration 0002 seeds them; a test
    database flushed between tests, or a demo database, gets them back), never changing what
    ops edited. Returns how many it created."""
    import importlib

    from governance.dashboard.models import Capability

    seeded = importlib.import_module("governance.dashboard.migrations.0002_seed_capabilities")
    created = 0
    for order, (key, name, owner, ad_hoc, done, kpi, levels) in enumerate(seeded.CAPABILITIES, 1):
        _, new = Capability.objects.get_or_create(
            key=key,
            defaults={
                "name": name,
                "order": order,
                "owner": owner,
                "ad_hoc": ad_hoc,
                "operationalised": done,
                "kpi": kpi,
                "developing_at": levels[0],
                "defined_at": levels[1],
                "managed_at": levels[2],
                "operationalised_at": levels[3],
            },
        )
        created += new
    return created
