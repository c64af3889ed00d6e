"""The rules in force for one automated touch, as the pure decision code reads them, and the
facts it needs about the contact (its time zone, its recent automated touches)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from governance import tone, touches
from governance.policies.choices import ExpiryAction, PromiseKind, ToneKind
from governance.policies.models import FrequencyCap, QuietHours, ToneRule
from handoffs.choices import Direction, OutboxStatus
from handoffs.models import Message
from journeys.models import Contact, Enrollment
from portal.models import Team

log = logging.getLogger("baton.governance")

# Messages that reached the contact or are on their way (a deferred one at its time).
COUNTED_STATUSES = (OutboxStatus.QUEUED, OutboxStatus.SENDING, OutboxStatus.SENT)


@dataclass(frozen=True)
class Ruleset:
    """Every active rule that governs one team's touches (or organisation-wide ones), with
    the model ids beside the pure rules so a decision can name the row that made it."""

    caps: tuple[touches.CapRule, ...] = ()
    quiet: tuple[touches.QuietRule, ...] = ()
    tone: tuple[tone.ToneRule, ...] = ()
    ids: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, name) → id
    approval: dict[str, tuple[int | None, str]] = field(default_factory=dict)  # name → expiry

    def rule_id(self, kind: str, name: str) -> int | None:
        return self.ids.get((kind, name))


def _scope(team: Team | None) -> Q:
    return Q(team__isnull=True) | Q(team=team) if team is not None else Q(team__isnull=True)


def ruleset_for(*, team: Team | None) -> Ruleset:
    """Three queries: the active caps, quiet hours and tone rules for `team`'s touches."""
    ids: dict[tuple[str, str], int] = {}
    caps = []
    for row in FrequencyCap.objects.filter(_scope(team), active=True).order_by("id"):
        name = _unique(row.name, "cap", row.pk, ids)
        caps.append(
            touches.CapRule(
                name=name,
                limit=row.limit,
                window=row.window,
                action=row.action,
                channels=frozenset(row.channels or ()),
            )
        )
    quiet = []
    for row in QuietHours.objects.filter(_scope(team), active=True).order_by("id"):
        name = _unique(row.name, "quiet_hours", row.pk, ids)
        quiet.append(
            touches.QuietRule(
                name=name,
                starts=row.starts,
                ends=row.ends,
                action=row.action,
                weekdays=frozenset(row.weekdays) if row.weekdays else frozenset(range(7)),
                channels=frozenset(row.channels or ()),
            )
        )
    return Ruleset(
        caps=tuple(caps), quiet=tuple(quiet), ids=ids, **tone_rules_for(team=team, ids=ids)
    )


def tone_rules_for(
    *, team: Team | None, ids: dict[tuple[str, str], int] | None = None
) -> dict[str, Any]:
    ids = ids if ids is not None else {}
    rules = []
    approval: dict[str, tuple[int | None, str]] = {}
    for row in ToneRule.objects.filter(_scope(team), active=True).order_by("kind", "id"):
        name = _unique(row.name, "tone", row.pk, ids)
        rules.append(tone_rule(row, name=name))
        approval[name] = (row.approval_expires_minutes, row.expiry_action)
    return {"tone": tuple(rules), "approval": approval}


def tone_rule(row: ToneRule, *, name: str | None = None) -> tone.ToneRule:
    kinds = frozenset(row.promise_kinds or ()) or frozenset(PromiseKind.values)
    return tone.ToneRule(
        name=name or row.name,
        kind=row.kind,
        phrases=row.phrase_list,
        channels=frozenset(row.channels or ()),
        promise_kinds=kinds if row.kind == ToneKind.PROMISE else frozenset(PromiseKind.values),
    )


def _unique(name: str, kind: str, pk: int, ids: dict[tuple[str, str], int]) -> str:
    """Decisions name their rule; two rules of one kind with the same name get their id."""
    if (kind, name) in ids:
        name = f"{name} #{pk}"
    ids[(kind, name)] = pk
    return name


def approval_terms(ruleset: Ruleset, findings: Iterable[tone.Finding]) -> tuple[int, str]:
    """How long a held message waits and what happens then: the strictest of the promise rules
    that held it (the shortest wait; reject over send), else the settings."""
    minutes = settings.BATON_APPROVAL_EXPIRY_MINUTES
    action = settings.BATON_APPROVAL_EXPIRY_ACTION
    waits, actions = [], []
    for finding in findings:
        if finding.kind == "promise" and finding.rule in ruleset.approval:
            rule_minutes, rule_action = ruleset.approval[finding.rule]
            waits.append(rule_minutes or minutes)
            actions.append(rule_action or action)
    if waits:
        minutes = min(waits)
        action = ExpiryAction.REJECT if ExpiryAction.REJECT in actions else ExpiryAction.SEND
    return minutes, action


def touch_team(enrollment: Enrollment, step_key: str) -> Team | None:
    """The team an automated touch belongs to: its step's team, else the first team the
    journey's version names (the journey's owner in practice), else none."""
    steps = [
        s for s in (enrollment.version.definition or {}).get("steps", []) if isinstance(s, dict)
    ]
    own = next((s.get("team") for s in steps if s.get("key") == step_key), None)
    slug = own or next((s.get("team") for s in steps if s.get("team")), None)
    return Team.objects.filter(slug=slug).first() if slug else None


def contact_zone(contact: Contact, team: Team | None) -> ZoneInfo:
    """The contact's own zone; else the owning team's calendar zone; else settings.TIME_ZONE."""
    for name in (contact.timezone, _team_zone(team), settings.TIME_ZONE):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                log.warning("unknown time zone %r for contact %s", name, contact.pk)
    return ZoneInfo("UTC")


def _team_zone(team: Team | None) -> str:
    if team is None:
        return ""
    from governance import models as governance_models  # SLA calendars (docs/sla.md)

    team_hours = getattr(governance_models, "TeamHours", None)
    if team_hours is None:
        return ""
    return (
        team_hours.objects.filter(team=team, calendar__isnull=False)
        .values_list("calendar__time_zone", flat=True)
        .first()
        or ""
    )


def touch_history(*, contact: Contact, since: datetime) -> list[touches.Touch]:
    """The contact's automated touches from every team and channel since `since`: sent ones at
    the time they went, queued ones (deferred ones included) at the time they are due to go."""
    rows = (
        Message.objects.filter(
            conversation__contact=contact,
            automated=True,
            direction=Direction.OUT,
            outbox__status__in=COUNTED_STATUSES,
        )
        .annotate(touch_at=Coalesce(F("outbox__sent_at"), F("outbox__next_attempt_at")))
        .filter(touch_at__gt=since)
        .values_list("touch_at", "channel")
    )
    return [touches.Touch(at=at, channel=channel) for at, channel in rows]


def longest_window(ruleset: Ruleset) -> timedelta:
    return max((cap.window for cap in ruleset.caps), default=timedelta(0))
