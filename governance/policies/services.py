"""Every automated touch passes through here on its way to the outbox (journeys/engine.py
`_send`): frequency caps and quiet hours decide when (or whether) it goes, tone rules decide
what goes — or whether a person must see it first. Each decision is logged with the rule that
made it (TouchDecision) and shown on the contact's timeline (EnrollmentEvent).

Human 1:1 replies (handoffs/services/replies.py) never come here: they are never capped or
tone-checked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance import tone, touches
from governance.policies.choices import RuleKind, TouchAction
from governance.policies.models import TouchDecision
from governance.policies.rules import (
    Ruleset,
    contact_zone,
    longest_window,
    ruleset_for,
    touch_history,
    touch_team,
)
from handoffs.choices import Channel, Direction, OutboxStatus
from handoffs.models import Message
from handoffs.services.replies import automated_message_queue
from journeys.models import Contact, Enrollment, EnrollmentEvent
from portal.models import Team

log = logging.getLogger("baton.governance")


@dataclass(frozen=True)
class AutomatedTouch:
    """One automated message a journey step wants to send, already routed to an address."""

    enrollment: Enrollment
    contact: Contact
    channel: str
    address: str
    step: str
    subject: str
    body: str


@dataclass(frozen=True)
class SendResult:
    """`message`: what was queued (None when suppressed, blocked or held). `handed_over`: a
    person has the contact now (held for approval). `blocked`: why automation may not send it
    at all — the engine hands the contact to a person with this reason (its fail-safe)."""

    message: Message | None
    handed_over: bool = False
    blocked: str = ""


def automated_send(*, touch: AutomatedTouch, now: datetime | None = None) -> SendResult:
    """Decide, log and queue one automated touch, inside the caller's transaction (the engine
    holds the enrollment row lock, so a touch is decided exactly once).

    Order: caps and quiet hours first (a suppressed touch needs no tone review), then tone:
    banned → blocked; a promise → held for a person's approval; otherwise the text (with its
    disclosure) is queued — now, or deferred to the next allowed time."""
    now = now or timezone.now()
    team = touch_team(touch.enrollment, touch.step)
    ruleset = ruleset_for(team=team)
    decision = _timing(touch, ruleset, team, now)
    if decision.action == "suppress":
        _log(touch, team, TouchAction.SUPPRESSED, ruleset, decision.rule, decision.reason, now)
        _event(touch, "suppressed", f"{_label(touch.channel)} not sent — {decision.reason}")
        return SendResult(None)
    report = tone.tone_check(text=touch.body, channel=touch.channel, rules=ruleset.tone)
    if report.blocked:
        finding = next(f for f in report.findings if f.kind == "banned")
        why = f"tone rule {finding}"
        _log(touch, team, TouchAction.BLOCKED, ruleset, finding.rule, why, now, tone_rule=True)
        _event(touch, "blocked", f"{_label(touch.channel)} not sent — {why}; a person has it")
        return SendResult(None, blocked=f"step {touch.step}'s text breaks {why}")
    if report.needs_approval:
        from governance.policies.approvals import approval_hold  # approvals queue through here

        approval_hold(touch=touch, team=team, ruleset=ruleset, report=report, now=now)
        return SendResult(None, handed_over=True)
    deferred_to = decision.at if decision.action == "defer" else None
    message = automated_message_queue(
        contact=touch.contact,
        route=(touch.channel, touch.address),
        subject=touch.subject,
        body=report.text,
        enrollment=touch.enrollment,
        step=touch.step,
        due_at=deferred_to,
    )
    if deferred_to is not None:
        log_deferral(touch=touch, team=team, ruleset=ruleset, decision=decision, message=message)
    return SendResult(message)


def _timing(
    touch: AutomatedTouch, ruleset: Ruleset, team: Team | None, now: datetime
) -> touches.Decision:
    """When the touch may go: caps over the contact's touches from every team and channel,
    quiet hours in the contact's zone. An answer in a conversation the contact is having right
    now (they wrote within BATON_GOVERNANCE_REPLY_WINDOW_MINUTES) is not held back: it still
    counts toward the caps."""
    if not ruleset.caps and not ruleset.quiet:
        return touches.Decision(touches.SEND, now)
    if in_conversation(contact=touch.contact, now=now):
        return touches.Decision(touches.SEND, now)
    history = (
        touch_history(contact=touch.contact, since=now - longest_window(ruleset))
        if ruleset.caps
        else []
    )
    return touches.touch_decide(
        now=now,
        channel=touch.channel,
        history=history,
        caps=ruleset.caps,
        quiet=ruleset.quiet,
        zone=contact_zone(touch.contact, team),
    )


def in_conversation(*, contact: Contact, now: datetime) -> bool:
    minutes = settings.BATON_GOVERNANCE_REPLY_WINDOW_MINUTES
    if minutes <= 0:
        return False
    return Message.objects.filter(
        conversation__contact=contact,
        direction=Direction.IN,
        created_at__gte=now - timedelta(minutes=minutes),
    ).exists()


def log_deferral(
    *,
    touch: AutomatedTouch,
    team: Team | None,
    ruleset: Ruleset,
    decision: touches.Decision,
    message: Message,
) -> None:
    local = decision.at.astimezone(contact_zone(touch.contact, team))
    when = f"{local:%a %d %b %H:%M} {local.tzinfo}"
    quiet_hours = ruleset.rule_id(RuleKind.QUIET_HOURS, decision.rule) is not None
    why = f"quiet hours ({decision.rule})" if quiet_hours else decision.reason
    _log(
        touch,
        team,
        TouchAction.DEFERRED,
        ruleset,
        decision.rule,
        decision.reason,
        timezone.now(),
        message=message,
        defer_until=decision.at,
    )
    _event(touch, "deferred", f"{_label(touch.channel)} deferred to {when} — {why}")


def _log(
    touch: AutomatedTouch,
    team: Team | None,
    action: str,
    ruleset: Ruleset,
    rule: str,
    reason: str,
    now: datetime,
    *,
    tone_rule: bool = False,
    message: Message | None = None,
    defer_until: datetime | None = None,
) -> TouchDecision:
    if tone_rule:
        kind = RuleKind.TONE
    elif ruleset.rule_id(RuleKind.QUIET_HOURS, rule) is not None:
        kind = RuleKind.QUIET_HOURS
    else:
        kind = RuleKind.CAP
    return TouchDecision.objects.create(
        contact=touch.contact,
        enrollment=touch.enrollment,
        step=touch.step[:50],
        team=team,
        message=message,
        channel=touch.channel,
        action=action,
        rule_kind=kind,
        rule_name=rule[:100],
        rule_id=ruleset.rule_id(kind, rule),
        reason=reason[:300],
        text=touch.body,
        defer_until=defer_until,
        created_at=now,
    )


def _event(touch: AutomatedTouch, kind: str, detail: str) -> None:
    EnrollmentEvent.objects.create(
        enrollment=touch.enrollment, kind=kind, step=touch.step[:50], detail=detail[:300]
    )


NOUNS = {Channel.EMAIL: "email", Channel.SMS: "SMS", Channel.WHATSAPP: "WhatsApp message"}


def noun(channel: str) -> str:
    """'email', 'SMS', 'WhatsApp message', 'chat message': for sentences."""
    return NOUNS.get(channel, f"{channel} message")


def _label(channel: str) -> str:
    """The same, at the start of a sentence."""
    text = noun(channel)
    return text[0].upper() + text[1:]


# --- Deferred touches: record how each one ended ---------------------------------------------

SETTLED = (OutboxStatus.SENT, OutboxStatus.CANCELLED, OutboxStatus.FAILED)


def deferrals_settle(*, now: datetime | None = None, limit: int = 500) -> int:
    """For deferred touches whose delivery is over (sent, cancelled or failed), record the outcome
    once: a `sent_after_deferral` decision and a timeline line when it went out; a timeline line
    when it did not (a person took over, or delivery failed). Compare-and-swap on `settled_at`,
    so two sweepers never record one twice."""
    now = now or timezone.now()
    pending = list(
        TouchDecision.objects.filter(action=TouchAction.DEFERRED, settled_at__isnull=True)
        .filter(message__outbox__status__in=SETTLED)
        .order_by("defer_until")
        .values_list("id", flat=True)[:limit]
    )
    done = 0
    for decision_id in pending:
        with transaction.atomic():
            if _settle(decision_id, now):
                done += 1
    orphans = TouchDecision.objects.filter(
        action=TouchAction.DEFERRED,
        settled_at__isnull=True,
        message__isnull=True,
    ).update(settled_at=now)
    return done + orphans


def _settle(decision_id: int, now: datetime) -> bool:
    won = TouchDecision.objects.filter(pk=decision_id, settled_at__isnull=True).update(
        settled_at=now
    )
    if won != 1:
        return False  # another sweeper recorded it
    row = TouchDecision.objects.select_related("message__outbox", "enrollment").get(pk=decision_id)
    outbox = row.message.outbox
    if outbox.status == OutboxStatus.SENT:
        TouchDecision.objects.create(
            contact_id=row.contact_id,
            enrollment=row.enrollment,
            step=row.step,
            team_id=row.team_id,
            message=row.message,
            channel=row.channel,
            action=TouchAction.SENT_AFTER_DEFERRAL,
            rule_kind=row.rule_kind,
            rule_name=row.rule_name,
            rule_id=row.rule_id,
            reason=f"deferred by {row.rule_name}, sent {_ago(row.created_at, outbox.sent_at)}"[
                :300
            ],
            text=row.message.body,
            created_at=outbox.sent_at or now,
        )
        detail = f"The deferred {noun(row.channel)} went out (held back by {row.rule_name})"
    else:
        status = outbox.get_status_display().lower()
        detail = f"The deferred {noun(row.channel)} did not go out: {status}"
    if row.enrollment is not None:
        EnrollmentEvent.objects.create(
            enrollment=row.enrollment, kind="deferred_outcome", step=row.step, detail=detail[:300]
        )
    return True


def _ago(start: datetime, end: datetime | None) -> str:
    if end is None:
        return "later"
    minutes = max(0, int((end - start).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min later"
    hours = minutes // 60
    return f"{hours} h later" if hours < 48 else f"{hours // 24} days later"
