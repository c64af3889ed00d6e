"""The playbook for one contact, as one person may see it: next steps, content and reply drafts,
each with the reasons it was picked, best first.

Where the contact is now comes from the same team-scoped reads as the timeline: the Loop stage
of its live journeys, the trigger of the open handoff (the one on screen, else the contact's
active handoffs this person may see), its persona, its recent signals (for conditions and
template placeholders) and its latest inbound message (a question gets the closest FAQ answer
as a draft). It reads signals and messages through the timeline's own team-scoped helpers, so
it can never see more than the timeline does. A fixed handful of queries, however long the
timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from handoffs.choices import ACTIVE_STATUSES, Trigger
from handoffs.models import Handoff
from handoffs.triage.choices import TriageLabel
from handoffs.triage.config import faq_index
from handoffs.triage.text import is_question, words
from journeys import rules
from journeys.choices import LIVE_ENROLLMENT_STATUSES, LoopStage
from journeys.models import Contact, Enrollment
from journeys.playbook.choices import Persona
from journeys.playbook.documents import body_render, first_name, merged_properties
from journeys.playbook.models import ContentItem, NextStepRule, PlaybookItem, ReplyTemplate
from journeys.selectors import _ago, _messages, _signals, exchange_rates
from portal.selectors import teams_visible_to
from portal.timefmt import iso

MAX_STEPS = 4
MAX_CONTENT = 4
MAX_DRAFTS = 3
SIGNALS_READ = 20  # recent signals whose properties conditions and templates read
# The closest FAQ answer is offered as a draft from this score (0–1) up. Lower than the bot's
# own threshold (TriageSettings.faq_match_at_least): a person reads it before it goes anywhere.
FAQ_DRAFT_AT_LEAST = 0.3
QUESTION_LABELS = frozenset({TriageLabel.FAQ, TriageLabel.QUESTION})


@dataclass(frozen=True)
class NextStep:
    rule_id: int
    title: str
    detail: str
    because: tuple[str, ...]


@dataclass(frozen=True)
class ContentPick:
    item_id: int
    title: str
    url: str
    summary: str
    because: tuple[str, ...]


@dataclass(frozen=True)
class Draft:
    key: str  # "t<template id>" or "faq<entry id>": what ?draft= names on the handoff page
    title: str
    body: str
    because: tuple[str, ...]


@dataclass(frozen=True)
class Playbook:
    next_steps: list[NextStep] = field(default_factory=list)
    content: list[ContentPick] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    basis: tuple[str, ...] = ()  # where the contact is: "Renew stage", "Sentiment handoff"…
    handoff_id: int | None = None  # the open handoff a draft would be sent on

    @property
    def empty(self) -> bool:
        return not (self.next_steps or self.content or self.drafts)


@dataclass(frozen=True)
class _Situation:
    loop_stages: tuple[str, ...]
    triggers: tuple[str, ...]
    persona: str
    condition_doc: dict[str, Any]
    reply_doc: dict[str, Any]


def playbook_for(
    *,
    contact: Contact,
    principal: Any,
    handoff: Handoff | None = None,
    enrollments: list[Enrollment] | None = None,
    now: datetime | None = None,
) -> Playbook:
    """`handoff`: the handoff on screen (its trigger and team count, if it is active).
    `enrollments`: every enrollment of the contact with journey and stage, newest first, when
    the caller has them already (the contact page does); otherwise they are read here."""
    now = now or timezone.now()
    teams = teams_visible_to(principal=principal)
    if enrollments is None:
        enrollments = list(
            Enrollment.objects.filter(contact=contact, status__in=LIVE_ENROLLMENT_STATUSES)
            .select_related("journey", "stage")
            .order_by("-created_at", "-id")
        )
    enrollments = [e for e in enrollments if e.status in LIVE_ENROLLMENT_STATUSES]
    if handoff is not None and handoff.is_active:
        active = [handoff]
    else:
        active = list(
            Handoff.objects.filter(contact=contact, team__in=teams, status__in=ACTIVE_STATUSES)
            .select_related("team")
            .order_by("-created_at", "-id")
        )
    # A team's rows serve the team working the contact: the open handoff's, else the person's.
    owners = Q(team__isnull=True) | (
        Q(team_id__in={h.team_id for h in active}) if active else Q(team__in=teams)
    )
    step_rules = list(NextStepRule.objects.filter(owners, active=True))
    items = list(ContentItem.objects.filter(owners, active=True))
    templates = list(ReplyTemplate.objects.filter(owners, active=True))
    signals = list(
        _signals(contact, teams)
        .order_by("-occurred_at", "-id")
        .values("type", "occurred_at", "properties")[:SIGNALS_READ]
    )
    money = any(rules.condition_uses_currency(r.condition) for r in step_rules if r.condition)
    situation = _situation(
        contact, principal, enrollments, active, signals, exchange_rates() if money else None
    )
    last_in = (
        _messages(contact, teams)
        .filter(direction="in")
        .order_by("-created_at", "-id")
        .values("body", "created_at", "triage")
        .first()
    )
    faq = _faq_draft(last_in, situation, now) if last_in else None
    drafts = [faq] if faq else []
    drafts += _template_drafts(templates, situation)[: MAX_DRAFTS - len(drafts)]
    return Playbook(
        next_steps=_next_steps(step_rules, situation)[:MAX_STEPS],
        content=_content(items, situation)[:MAX_CONTENT],
        drafts=drafts,
        basis=_basis(situation),
        handoff_id=active[0].pk if active else None,
    )


class LazyPlaybook:
    """The playbook computed on first use: the handoff page's context is also rendered for live
    fragments and action responses that never show it, and those must not pay its queries.
    Templates call it (a callable) and get the Playbook; it is computed once."""

    def __init__(self, *, contact: Contact, principal: Any, handoff: Handoff | None) -> None:
        self._kwargs = {"contact": contact, "principal": principal, "handoff": handoff}
        self._value: Playbook | None = None

    def __call__(self) -> Playbook:
        if self._value is None:
            self._value = playbook_for(**self._kwargs)
        return self._value


def _situation(
    contact: Contact,
    principal: Any,
    enrollments: list[Enrollment],
    active: list[Handoff],
    signals: list[dict[str, Any]],
    rates: dict[str, float] | None,
) -> _Situation:
    account = contact.account
    account_doc = {"external_id": account.external_id, "name": account.name} if account else {}
    properties = merged_properties([s["properties"] for s in signals])
    latest = signals[0] if signals else None
    condition_doc = {
        "type": latest["type"] if latest else "",
        "occurred_at": iso(latest["occurred_at"]) if latest else "",
        "properties": properties,
        "contact": {
            "external_id": contact.external_id,
            "email": contact.email,
            "phone": contact.phone,
            "name": contact.name,
            "timezone": contact.timezone,
        },
        "account": account_doc,
        rules.RATES_KEY: rates or {},
    }
    rep_name = _full_name(principal)
    reply_doc = {
        "contact": {
            "first_name": first_name(contact.name),
            "name": contact.name or contact.display_name,
            "email": contact.email,
            "phone": contact.phone,
            "external_id": contact.external_id,
            "timezone": contact.timezone,
        },
        "account": account_doc,
        "properties": properties,
        "journey": {"name": enrollments[0].journey.name} if enrollments else {},
        "rep": {"first_name": first_name(rep_name), "name": rep_name},
        "team": {"name": active[0].team.name} if active else {},
    }
    return _Situation(
        loop_stages=tuple(dict.fromkeys(e.stage.loop_stage for e in enrollments if e.stage)),
        triggers=tuple(dict.fromkeys(h.trigger for h in active)),
        persona=contact.persona,
        condition_doc=condition_doc,
        reply_doc=reply_doc,
    )


def _full_name(principal: Any) -> str:
    get_full_name = getattr(principal, "get_full_name", None)
    full = get_full_name() if get_full_name else ""
    return full or getattr(principal, "username", "") or ""


# How much each kind of fit counts when ranking. The handoff's trigger counts double: it is why
# the person is looking at this contact now; the stage, persona and a condition say where the
# contact is in general.
TRIGGER_POINTS = 2
OTHER_POINTS = 1
GENERAL = ("general advice, for every contact",)


@dataclass
class _Fit:
    points: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, points: int, reasons: list[str]) -> None:
        self.points += points
        self.reasons += reasons

    def because(self) -> tuple[str, ...]:
        return tuple(self.reasons) or GENERAL


def _tag_fit(item: PlaybookItem, situation: _Situation) -> _Fit | None:
    """How the item's stage and trigger tags fit the contact, or None when one does not."""
    fit = _Fit()
    if item.loop_stages:
        stages = [s for s in situation.loop_stages if s in item.loop_stages]
        if not stages:
            return None
        fit.add(OTHER_POINTS, [f"{LoopStage(s).label} stage" for s in stages])
    if item.triggers:
        triggers = [t for t in situation.triggers if t in item.triggers]
        if not triggers:
            return None
        fit.add(TRIGGER_POINTS, [f"{Trigger(t).label} handoff" for t in triggers])
    return fit


def _ranked(scored: list[tuple[int, int, str, Any]]) -> list[Any]:
    """Best fit first, then by weight, then by name."""
    scored.sort(key=lambda row: (-row[0], -row[1], row[2]))
    return [row[3] for row in scored]


def _next_steps(step_rules: list[NextStepRule], situation: _Situation) -> list[NextStep]:
    scored = []
    for rule in step_rules:
        fit = _tag_fit(rule, situation)
        if fit is None:
            continue
        if rule.condition:
            held = rules.condition_explain(rule.condition, situation.condition_doc)
            if not held:
                continue
            fit.add(OTHER_POINTS, held[:2])
        step = NextStep(rule.pk, rule.title, rule.detail, fit.because())
        scored.append((fit.points, rule.weight, rule.title, step))
    return _ranked(scored)


def _content(items: list[ContentItem], situation: _Situation) -> list[ContentPick]:
    scored = []
    for item in items:
        fit = _tag_fit(item, situation)
        if fit is None:
            continue
        if item.personas:
            if situation.persona not in item.personas:
                continue
            fit.add(OTHER_POINTS, [Persona(situation.persona).label])
        pick = ContentPick(item.pk, item.title, item.url, item.summary, fit.because())
        scored.append((fit.points, 0, item.title, pick))
    return _ranked(scored)


def _template_drafts(templates: list[ReplyTemplate], situation: _Situation) -> list[Draft]:
    scored = []
    for template in templates:
        fit = _tag_fit(template, situation)
        if fit is None:
            continue
        body = body_render(template.body, situation.reply_doc)
        draft = Draft(f"t{template.pk}", template.name, body, fit.because())
        scored.append((fit.points, 0, template.name, draft))
    return _ranked(scored)


def _faq_draft(message: dict[str, Any], situation: _Situation, now: datetime) -> Draft | None:
    """Their latest message, if it asks something, answered from the closest FAQ entry."""
    text = " ".join(message["body"].split())
    if message["triage"] not in QUESTION_LABELS and not is_question(text, words(text)):
        return None
    candidates = faq_index().rank(text, limit=1)
    if not candidates or candidates[0].score < FAQ_DRAFT_AT_LEAST:
        return None
    best = candidates[0]
    quoted = text if len(text) <= 60 else text[:59] + "…"
    greeting = situation.reply_doc["contact"]["first_name"]
    return Draft(
        key=f"faq{best.entry_id}",
        title=f"FAQ: {best.question}",
        body=f"Hi {greeting},\n\n{best.answer}",
        because=(
            f"their last message asks “{quoted}” ({_ago(message['created_at'], now)})",
            f"FAQ match {best.score:.0%}",
        ),
    )


def _basis(situation: _Situation) -> tuple[str, ...]:
    parts = [f"{LoopStage(s).label} stage" for s in situation.loop_stages]
    parts += [f"{Trigger(t).label} handoff" for t in situation.triggers]
    if situation.persona:
        parts.append(Persona(situation.persona).label)
    return tuple(parts)
