"""What is governed: the models whose every change is versioned, their inline children, which
team owns a row, and the checks a change must still pass when it is published (the admin forms'
own checks, for changes that never went through a form)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any

import reversion
from django.db import models


@dataclass(frozen=True)
class Governed:
    model: type[models.Model]
    children: dict[str, type[models.Model]] = field(default_factory=dict)  # related name → model
    extra_fields: tuple[str, ...] = ()  # non-editable fields a version keeps (a rule's version)

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def kind(self) -> str:
        name = str(self.model._meta.verbose_name)
        return name[:1].upper() + name[1:]


def _governed() -> dict[str, Governed]:
    from governance.models import (
        BusinessCalendar,
        FrequencyCap,
        HandoffRuleSla,
        Holiday,
        OpeningPeriod,
        QuietHours,
        SlaPolicy,
        TeamHours,
        ToneRule,
    )
    from journeys.models import HandoffRule

    specs = [
        Governed(HandoffRule, extra_fields=("version",)),
        Governed(HandoffRuleSla),
        Governed(SlaPolicy),
        Governed(BusinessCalendar, children={"periods": OpeningPeriod, "holidays": Holiday}),
        Governed(TeamHours),
        Governed(FrequencyCap),
        Governed(QuietHours),
        Governed(ToneRule),
    ]
    return {spec.label: spec for spec in specs}


_REGISTRY: dict[str, Governed] = {}


def governed() -> dict[str, Governed]:
    if not _REGISTRY:
        _REGISTRY.update(_governed())
    return _REGISTRY


def spec_for(model: type[models.Model]) -> Governed:
    try:
        return governed()[model._meta.label_lower]
    except KeyError:
        raise LookupError(f"{model._meta.label} is not a governed model") from None


def register_governed() -> None:
    """Register with django-reversion (roots follow their inline children). Called once when
    governance's models load; the apps before it (journeys) are loaded by then."""
    for spec in governed().values():
        for child in spec.children.values():
            if not reversion.is_registered(child):
                reversion.register(child)
        if not reversion.is_registered(spec.model):
            reversion.register(spec.model, follow=tuple(spec.children))


def team_id_of(model: type[models.Model], values: dict[str, Any]) -> int | None:
    """The team whose ops may edit a row with these values (None: organisation-wide)."""
    if "team_id" in values:
        return values["team_id"]
    if "rule_id" in values:  # a rule's own SLA belongs to the rule's team
        from journeys.models import HandoffRule

        return (
            HandoffRule.objects.filter(pk=values["rule_id"])
            .values_list("team_id", flat=True)
            .first()
        )
    return None


def extra_problems(
    model: type[models.Model], obj: models.Model, related: dict[str, list[models.Model]]
) -> list[str]:
    """The admin forms' checks beyond the model's own `full_clean`."""
    from governance.models import BusinessCalendar, TeamHours
    from handoffs.sla import WorkPeriod, overlapping_periods
    from journeys import rules
    from journeys.models import HandoffRule

    problems: list[str] = []
    if model is HandoffRule:
        problems += [f"Rule {e}" for e in rules.condition_errors(obj.condition)]
        problems += [f"Reason {e}" for e in rules.template_errors(obj.reason_template)]
    elif model is BusinessCalendar and "periods" in related:
        periods = [WorkPeriod(p.weekday, p.starts, p.ends) for p in related["periods"]]
        for p, q in overlapping_periods(periods):
            problems.append(f"{_period(p)} overlaps {_period(q)}.")
        if not periods and not obj.always_open:
            problems.append("A calendar needs an opening period, or “open 24/7”.")
    elif model is TeamHours and obj.calendar_id is not None:
        calendar = BusinessCalendar.objects.filter(pk=obj.calendar_id).first()
        if calendar is not None and calendar.team_id not in (None, obj.team_id):
            problems.append(f"“{calendar}” is another team's calendar.")
    return problems


def _period(p: Any) -> str:
    from portal.choices import Weekday

    ends: time = p.ends
    return f"{Weekday(p.weekday).label} {p.starts:%H:%M}–{ends:%H:%M}"
