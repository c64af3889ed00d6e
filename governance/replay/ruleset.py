"""Every governed rule in memory: the live set as stored, or the live set overlaid with a
draft's proposed changes — nothing saved. The replay engine reads rules only from here, through
the same pure shapes live code uses (journeys/rules conditions, handoffs/sla.Calendar,
governance.selectors.SlaTerms, governance.policies.rules.Ruleset), so the live set replays what
actually happened and a draft differs only where its changes do (docs/replay.md)."""

from __future__ import annotations

import copy
import itertools
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from governance.changes import ProposedChange
from governance.models import (
    BusinessCalendar,
    HandoffRuleSla,
    Holiday,
    OpeningPeriod,
    SlaPolicy,
    TeamHours,
)
from governance.policies.choices import RuleKind
from governance.policies.models import FrequencyCap, QuietHours, ToneRule
from governance.policies.rules import Ruleset, _unique, tone_rule
from governance.selectors import SlaTerms, calendar_of, terms_from
from governance.touches import CapRule, QuietRule
from handoffs.sla import ALWAYS_OPEN, Calendar
from journeys.models import HandoffRule

log = logging.getLogger("baton.governance")

# The kinds of row a draft may change; inline children are keyed by their parent's field.
GOVERNED: tuple[type[models.Model], ...] = (
    HandoffRule,
    HandoffRuleSla,
    SlaPolicy,
    BusinessCalendar,
    OpeningPeriod,
    Holiday,
    TeamHours,
    FrequencyCap,
    QuietHours,
    ToneRule,
)
# related name on a parent → (child model, the child's field naming the parent)
CHILDREN: dict[tuple[type[models.Model], str], tuple[type[models.Model], str]] = {
    (BusinessCalendar, "periods"): (OpeningPeriod, "calendar_id"),
    (BusinessCalendar, "holidays"): (Holiday, "calendar_id"),
}


class ChangeError(ValueError):
    """A proposed change the replay cannot apply (unknown kind or row, a bad value)."""


@dataclass
class RuleSet:
    """Rows of every governed model by key (the pk; a draft's new rows get negative keys), as
    unsaved model instances. Read through the methods, which build the pure rule shapes."""

    rows: dict[type[models.Model], dict[int, models.Model]] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    # --- handoff rules ---------------------------------------------------------------------

    def handoff_rules(self) -> list[HandoffRule]:
        """Enabled rules in the order ingestion evaluates them: by id (new ones last)."""
        if "rules" not in self._memo:
            enabled = [r for r in self._of(HandoffRule).values() if r.enabled]
            self._memo["rules"] = sorted(enabled, key=_creation_order)
        return self._memo["rules"]

    def rule_minutes(self, rule_key: int | None) -> int | None:
        if rule_key is None:
            return None
        for row in self._of(HandoffRuleSla).values():
            if row.rule_id == rule_key:
                return row.first_response_minutes
        return None

    # --- SLA terms (governance.selectors.terms_from over these rows) ----------------------------

    def terms(
        self,
        *,
        team_id: int,
        priority: str,
        team_default_minutes: int = 0,
        rule_key: int | None = None,
        step_minutes: int | None = None,
    ) -> SlaTerms:
        key = (team_id, priority, team_default_minutes, rule_key, step_minutes)
        if key in self._memo:
            return self._memo[key]
        hours = self._hours_of(team_id)
        policy = next(
            (
                p
                for p in self._of(SlaPolicy).values()
                if p.team_id == team_id and p.priority == priority
            ),
            None,
        )
        terms = terms_from(
            hours=hours,
            policy=policy,
            calendar=self.team_calendar(team_id),
            rule_minutes=self.rule_minutes(rule_key) if not step_minutes else None,
            step_minutes=step_minutes,
            team_default_minutes=team_default_minutes,
        )
        self._memo[key] = terms
        return terms

    def team_calendar(self, team_id: int) -> Calendar:
        hours = self._hours_of(team_id)
        if hours is None or hours.calendar_id is None:
            return ALWAYS_OPEN
        return self.calendar(hours.calendar_id)

    def team_zone_name(self, team_id: int | None) -> str:
        """The time zone of the team's calendar ('' without one), as contact_zone reads it."""
        hours = self._hours_of(team_id) if team_id is not None else None
        if hours is None or hours.calendar_id is None:
            return ""
        row = self._of(BusinessCalendar).get(hours.calendar_id)
        return row.time_zone if row is not None else ""

    def calendar(self, key: int) -> Calendar:
        memo = ("calendar", key)
        if memo not in self._memo:
            self._memo[memo] = self._build_calendar(key)
        return self._memo[memo]

    def _build_calendar(self, key: int) -> Calendar:
        row = self._of(BusinessCalendar).get(key)
        if row is None:  # the draft deleted the calendar a team still uses: as with none
            return ALWAYS_OPEN
        periods = sorted(
            (p.weekday, p.starts, p.ends)
            for p in self._of(OpeningPeriod).values()
            if p.calendar_id == key
        )
        holidays = (h.date for h in self._of(Holiday).values() if h.calendar_id == key)
        return calendar_of(row, periods, holidays)

    def _hours_of(self, team_id: int) -> TeamHours | None:
        memo = ("hours", team_id)
        if memo not in self._memo:
            self._memo[memo] = next(
                (h for h in self._of(TeamHours).values() if h.team_id == team_id), None
            )
        return self._memo[memo]

    # --- caps, quiet hours, tone (mirrors governance.policies.rules.ruleset_for) -------------

    def touch_rules(self, team_id: int | None) -> Ruleset:
        memo = ("touch", team_id)
        if memo in self._memo:
            return self._memo[memo]

        def scoped(model: type[models.Model]) -> list[Any]:
            return sorted(
                (
                    r
                    for r in self._of(model).values()
                    if r.active and (r.team_id is None or r.team_id == team_id)
                ),
                key=_creation_order,
            )

        ids: dict[tuple[str, str], int] = {}
        caps = []
        for row in scoped(FrequencyCap):
            name = _unique(row.name, RuleKind.CAP, row.pk, ids)
            caps.append(
                CapRule(
                    name=name,
                    limit=row.limit,
                    window=row.window,
                    action=row.action,
                    channels=frozenset(row.channels or ()),
                )
            )
        quiet = []
        for row in scoped(QuietHours):
            name = _unique(row.name, RuleKind.QUIET_HOURS, row.pk, ids)
            quiet.append(
                QuietRule(
                    name=name,
                    starts=row.starts,
                    ends=row.ends,
                    action=row.action,
                    weekdays=frozenset(row.weekdays) if row.weekdays else frozenset(range(7)),
                    channels=frozenset(row.channels or ()),
                )
            )
        tone = []
        approval: dict[str, tuple[int | None, str]] = {}
        for row in sorted(scoped(ToneRule), key=lambda r: (r.kind, _creation_order(r))):
            name = _unique(row.name, RuleKind.TONE, row.pk, ids)
            tone.append(tone_rule(row, name=name))
            approval[name] = (row.approval_expires_minutes, row.expiry_action)
        ruleset = Ruleset(
            caps=tuple(caps), quiet=tuple(quiet), tone=tuple(tone), ids=ids, approval=approval
        )
        self._memo[memo] = ruleset
        return ruleset

    # --- rows --------------------------------------------------------------------------------

    def _of(self, model: type[models.Model]) -> dict[int, Any]:
        return self.rows.setdefault(model, {})


def _creation_order(row: models.Model) -> tuple[int, int]:
    """Stored rows by id, then a draft's new rows in the order it added them (-1, -2, …)."""
    return (0, row.pk) if row.pk > 0 else (1, -row.pk)


def ruleset_live() -> RuleSet:
    """The rules in force now: one query per governed model (they are small tables)."""
    ruleset = RuleSet()
    for model in GOVERNED:
        ruleset.rows[model] = {row.pk: row for row in model._default_manager.all()}
    return ruleset


def ruleset_with(changes: Iterable[ProposedChange]) -> RuleSet:
    """The live rules with `changes` applied in memory, in order. Nothing is saved. A change
    the replay cannot apply raises ChangeError saying which and why."""
    ruleset = ruleset_live()
    keys = itertools.count(-1, -1)
    for index, change in enumerate(changes, start=1):
        try:
            _apply(ruleset, change, keys)
        except ChangeError as exc:
            raise ChangeError(f"change {index} ({_label(change.model)}): {exc}") from exc
    return ruleset


def _apply(ruleset: RuleSet, change: ProposedChange, keys: Iterable[int]) -> None:
    model = change.model
    if model not in GOVERNED:
        raise ChangeError("not a rule or policy a draft can change")
    rows = ruleset._of(model)
    if change.pk is not None and change.pk not in rows:
        raise ChangeError(f"#{change.pk} no longer exists")
    if change.delete:
        if change.pk is None:
            raise ChangeError("cannot delete a row that was never saved")
        del rows[change.pk]
        for (parent, _name), (child, parent_field) in CHILDREN.items():
            if parent is model:
                _drop_children(ruleset, child, parent_field, change.pk)
        return
    if change.pk is None:
        row = model()
        row.pk = next(iter(keys))
    else:
        row = copy.copy(rows[change.pk])
    _set_values(row, change.values)
    rows[row.pk] = row
    for related, children in change.related.items():
        spec = CHILDREN.get((model, related))
        if spec is None:
            raise ChangeError(f"has no inline {related!r} a draft can replace")
        child_model, parent_field = spec
        _drop_children(ruleset, child_model, parent_field, row.pk)
        for values in children:
            child = child_model()
            child.pk = next(iter(keys))
            _set_values(child, {**values, parent_field: row.pk})
            ruleset._of(child_model)[child.pk] = child


def _drop_children(
    ruleset: RuleSet, child: type[models.Model], parent_field: str, parent_key: int
) -> None:
    rows = ruleset._of(child)
    for key in [k for k, r in rows.items() if getattr(r, parent_field) == parent_key]:
        del rows[key]


def _set_values(row: models.Model, values: dict[str, Any]) -> None:
    """Set each value by attname, converted as the field would read it (a draft may keep times
    and dates as text)."""
    by_attname = {f.attname: f for f in row._meta.concrete_fields}
    for name, value in values.items():
        model_field = by_attname.get(name)
        if model_field is None or model_field.primary_key:
            raise ChangeError(f"has no field {name!r}")
        try:
            converted = model_field.to_python(value)
        except ValidationError as exc:
            raise ChangeError(f"{name}: {'; '.join(exc.messages)}") from exc
        setattr(row, name, converted)


def _label(model: type[models.Model]) -> str:
    return str(getattr(model._meta, "verbose_name", model.__name__))


def describe(change: ProposedChange, live: RuleSet | None = None) -> str:
    """One line for the page, naming only what differs from the live row: 'Frequency cap
    “Emails” (#3): limit 3 → 1', 'New tone rule “No promises”: kind promise'."""
    label = _label(change.model)
    label = label[0].upper() + label[1:]
    row = live.rows.get(change.model, {}).get(change.pk) if live and change.pk else None
    name = str(row) if row is not None else str(change.values.get("name") or "")
    named = f"{label} “{name}” (#{change.pk})" if name and change.pk else f"{label} #{change.pk}"
    if change.delete:
        return f"{named} removed"
    parts = []
    for key, value in change.values.items():
        before = getattr(row, key, None) if row is not None else None
        if row is not None and _same(row, key, before, value):
            continue
        field_name = key.removesuffix("_id")
        if row is not None:
            parts.append(f"{field_name} {_show(before)} → {_show(value)}")
        elif value not in (None, "", [], {}) and key != "name":
            parts.append(f"{field_name} {_show(value)}")
    for related, children in change.related.items():
        parts.append(f"{related}: {len(children)} (replaced)")
    shown = ", ".join(parts[:6]) + (f", and {len(parts) - 6} more" if len(parts) > 6 else "")
    if change.pk is None:
        new = f"New {label.lower()}" + (f" “{name}”" if name else "")
        return f"{new}: {shown}" if shown else new
    return f"{named}: {shown or 'no field changed'}"


def _same(row: models.Model, key: str, before: Any, value: Any) -> bool:
    fields = {f.attname: f for f in row._meta.concrete_fields}
    try:
        return before == (fields[key].to_python(value) if key in fields else value)
    except ValidationError:
        return False


def _show(value: Any) -> str:
    if isinstance(value, dict) and _is_condition(value):
        text = condition_text(value)
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


_OPS = {">=": "≥", "<=": "≤", "!=": "≠", "==": "=", "not_in": "not in"}


def _is_condition(tree: dict[str, Any]) -> bool:
    return bool({"all", "any", "not", "path"} & set(tree))


def condition_text(tree: Any) -> str:
    """A rule condition as a person reads it: 'properties.budget ≥ 40000 and …'."""
    if not isinstance(tree, dict):
        return json.dumps(tree, ensure_ascii=False)
    if "not" in tree:
        return f"not ({condition_text(tree['not'])})"
    for key, joiner in (("all", " and "), ("any", " or ")):
        if key in tree and isinstance(tree[key], list):
            parts = [condition_text(child) for child in tree[key]]
            if not parts:
                return "always" if key == "all" else "never"
            return joiner.join(f"({p})" if " and " in p or " or " in p else p for p in parts)
    value = tree.get("value")
    shown = json.dumps(value, ensure_ascii=False) if isinstance(value, str | list) else value
    currency = f" {tree['currency']}" if tree.get("currency") else ""
    return f"{tree.get('path')} {_OPS.get(tree.get('op'), tree.get('op'))} {shown}{currency}"


def reply_window_minutes() -> int:
    return int(settings.BATON_GOVERNANCE_REPLY_WINDOW_MINUTES)
