"""Held messages: an automated text that makes a promise (a price, a discount, a date, a
feature) waits for a person. It becomes an `approval` handoff for the owning team; a person
approves it (sent as is), edits it (the edited text is sent, marked approved by them) or rejects
it (not sent; the journey carries on). Nobody in time → the configured default, applied once by
the beat sweep (`governance.tasks.approvals_expire`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance import tone, touches
from governance.policies.choices import ApprovalDecision, ExpiryAction, TouchAction
from governance.policies.models import Approval
from governance.policies.rules import (
    Ruleset,
    approval_terms,
    contact_zone,
    longest_window,
    ruleset_for,
    tone_rules_for,
    touch_history,
)
from governance.policies.services import (
    AutomatedTouch,
    _log,
    log_deferral,
    noun,
)
from handoffs.choices import (
    ACTIVE_STATUSES,
    Priority,
    Trigger,
)
from handoffs.models import Handoff, Message
from handoffs.payloads import display_name
from handoffs.services import RaiseRequest, handoff_raise, handoff_resolve
from handoffs.services.replies import automated_message_queue
from journeys.models import EnrollmentEvent
from portal.errors import Conflict, DomainError, InvalidInput
from portal.models import Team
from portal.realtime import lock_event_seq

log = logging.getLogger("baton.governance")

MAX_TEXT_CHARS = 5000
DECISIONS = (ApprovalDecision.APPROVED, ApprovalDecision.EDITED, ApprovalDecision.REJECTED)


def approval_hold(
    *,
    touch: AutomatedTouch,
    team: Team | None,
    ruleset: Ruleset,
    report: tone.ToneReport,
    now: datetime,
) -> Approval:
    """Raise (or join) the contact's `approval` handoff for the owning team and keep the text
    until a person decides. Nothing is queued: the conversation shows only what was sent."""
    minutes, expiry_action = approval_terms(ruleset, report.findings)
    promises = [f for f in report.findings if f.kind == "promise"]
    said = "; ".join(f"{f.detail} ‘{f.excerpt}’" for f in promises)
    journey = touch.enrollment.journey.name
    handoff, _ = handoff_raise(
        request=RaiseRequest(
            contact=touch.contact,
            # No owning team (a journey with no team anywhere): the same team the engine's
            # fail-safe uses, so someone always sees it.
            team=team or Team.objects.order_by("id").first(),
            trigger=Trigger.APPROVAL,
            priority=Priority.NORMAL,
            reason=f"Approve an automated {noun(touch.channel)} before it goes: {said}",
            evidence={
                "type": "approval",
                "journey": journey,
                "step": touch.step,
                "findings": [_finding_dict(f, ruleset) for f in report.findings],
                "detail": f"{journey}, step {touch.step}: {said}",
            },
            first_response_minutes=minutes,
        )
    )
    approval = Approval.objects.create(
        handoff=handoff,
        contact=touch.contact,
        enrollment=touch.enrollment,
        step=touch.step[:50],
        channel=touch.channel,
        to_address=touch.address,
        subject=touch.subject[:200],
        original_text=report.text,
        findings=[_finding_dict(f, ruleset) for f in report.findings],
        expires_at=now + timedelta(minutes=minutes),
        expiry_action=expiry_action,
        created_at=now,
    )
    why = f"tone rule {promises[0]}"
    _log(touch, team, TouchAction.HELD, ruleset, promises[0].rule, why, now, tone_rule=True)
    EnrollmentEvent.objects.create(
        enrollment=touch.enrollment,
        kind="held",
        step=touch.step[:50],
        detail=f"{noun(touch.channel)[0].upper()}{noun(touch.channel)[1:]} held for approval "
        f"(handoff #{handoff.pk}) — {said}"[:300],
    )
    return approval


def _finding_dict(finding: tone.Finding, ruleset: Ruleset) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "rule_id": ruleset.rule_id("tone", finding.rule),
        "kind": finding.kind,
        "detail": finding.detail,
        "excerpt": finding.excerpt,
    }


@dataclass(frozen=True)
class Decided:
    approval: Approval
    note: str  # what happened, for the person who decided


def approval_decide(
    *,
    approval_id: int,
    user: Any,
    decision: str,
    text: str = "",
    may_override: bool = False,
) -> Decided:
    """A person decides a held message: approve (send as is), edit (send `text`) or reject.
    Refused when it was already decided (Conflict, naming who) or when someone else owns the
    handoff and `user` may not override (a lead may)."""
    if decision not in DECISIONS:
        raise InvalidInput("Unknown decision", {"decision": ["approve, edit or reject"]})
    return _decide(
        approval_id=approval_id,
        user=user,
        decision=decision,
        text=text,
        may_override=may_override,
        expired=False,
        now=timezone.now(),
    )


@transaction.atomic
def _decide(
    *,
    approval_id: int,
    user: Any,
    decision: str,
    text: str,
    may_override: bool,
    expired: bool,
    now: datetime,
) -> Decided:
    lock_event_seq()  # lock order: the event log before handoff rows (portal/realtime.py)
    approval = (
        Approval.objects.select_related("handoff__assignee", "contact", "enrollment__journey")
        .filter(pk=approval_id)
        .first()
    )
    if approval is None:
        raise InvalidInput("No such approval")
    handoff = approval.handoff
    someone_else = handoff.assignee_id not in (None, getattr(user, "pk", None))
    if not expired and handoff.is_active and someone_else and not may_override:
        raise Conflict(f"Already claimed by {display_name(handoff.assignee)}")
    body = approval.original_text
    if decision == ApprovalDecision.EDITED:
        body = _edited_text(approval, text)
    if decision != ApprovalDecision.REJECTED and approval.channel in (
        approval.contact.opted_out_channels or []
    ):
        if not expired:
            raise InvalidInput(
                f"{approval.contact.display_name} has opted out of {noun(approval.channel)}s "
                "since; reject it instead"
            )
        decision = ApprovalDecision.REJECTED
    # Race prevented: two people (or a person and the expiry sweep) deciding at once. The
    # compare-and-swap lets exactly one decision through; the other is told who won.
    won = Approval.objects.filter(pk=approval.pk, decision=ApprovalDecision.PENDING).update(
        decision=decision,
        decided_by=None if expired else user,
        decided_at=now,
        expired=expired,
        edited_text=body if decision == ApprovalDecision.EDITED else "",
    )
    if won != 1:
        approval.refresh_from_db()
        raise Conflict(_already(approval))
    approval.refresh_from_db()
    note = ""
    if decision != ApprovalDecision.REJECTED:
        message, note = _send(approval, body, author=None if expired else user, now=now)
        if message is not None:
            Approval.objects.filter(pk=approval.pk).update(message=message)
            approval.message = message
    _timeline(approval, user, note)
    _close_handoff(approval, user=None if expired else user)
    return Decided(approval=approval, note=note or _summary(approval))


def _edited_text(approval: Approval, text: str) -> str:
    """A person's edit still goes out as an automated message: no banned phrase, and the
    disclosure is appended if it went missing. Promises are theirs to make."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("Write the text to send", {"text": ["This field may not be blank."]})
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput("Text too long", {"text": [f"At most {MAX_TEXT_CHARS} characters."]})
    team = approval.handoff.team
    rules = [r for r in tone_rules_for(team=team)["tone"] if r.kind != "promise"]
    report = tone.tone_check(text=text, channel=approval.channel, rules=rules)
    if report.blocked:
        banned = ", ".join(f"‘{f.excerpt}’" for f in report.findings if f.kind == "banned")
        raise InvalidInput(
            f"The edited text uses a banned phrase ({banned}); nothing was sent",
            {"text": [f"Remove {banned}."]},
        )
    return report.text


def _send(
    approval: Approval, body: str, *, author: Any, now: datetime
) -> tuple[Message | None, str]:
    """Queue the approved text. Caps and quiet hours still apply to it (it is an automated
    touch): it may wait for the morning, or a suppressing rule may stop it."""
    team = approval.handoff.team
    ruleset = ruleset_for(team=team)
    touch = AutomatedTouch(
        enrollment=approval.enrollment,
        contact=approval.contact,
        channel=approval.channel,
        address=approval.to_address,
        step=approval.step,
        subject=approval.subject,
        body=body,
    )
    decision = touches.Decision(touches.SEND, now)
    if ruleset.caps or ruleset.quiet:
        history = touch_history(contact=approval.contact, since=now - longest_window(ruleset))
        decision = touches.touch_decide(
            now=now,
            channel=approval.channel,
            history=history,
            caps=ruleset.caps,
            quiet=ruleset.quiet,
            zone=contact_zone(approval.contact, team),
        )
    if decision.action == "suppress":
        _log(touch, team, TouchAction.SUPPRESSED, ruleset, decision.rule, decision.reason, now)
        return None, f"Approved, but not sent: {decision.reason}"
    deferred_to = decision.at if decision.action == "defer" else None
    message = automated_message_queue(
        contact=approval.contact,
        route=(approval.channel, approval.to_address),
        subject=approval.subject,
        body=body,
        enrollment=approval.enrollment,
        step=approval.step,
        due_at=deferred_to,
        handoff=approval.handoff,  # part of this handover: not held back by it at send time
        author=author,
    )
    if deferred_to is None:
        return message, ""
    if approval.enrollment is not None:
        log_deferral(touch=touch, team=team, ruleset=ruleset, decision=decision, message=message)
    else:
        _log(
            touch,
            team,
            TouchAction.DEFERRED,
            ruleset,
            decision.rule,
            decision.reason,
            now,
            message=message,
            defer_until=decision.at,
        )
    local = deferred_to.astimezone(contact_zone(approval.contact, team))
    return message, f"Approved; it goes out {local:%a %H:%M} ({local.tzinfo}): {decision.reason}"


def _timeline(approval: Approval, user: Any, note: str) -> None:
    if approval.enrollment is None:
        return
    who = "its expiry default" if approval.expired else display_name(user)
    what = {
        ApprovalDecision.APPROVED: "approved and sent",
        ApprovalDecision.EDITED: "edited and sent",
        ApprovalDecision.REJECTED: "rejected: not sent",
    }[approval.decision]
    detail = f"Held {noun(approval.channel)} {what} ({'by ' if not approval.expired else ''}{who})"
    if note:
        detail += f" — {note}"
    EnrollmentEvent.objects.create(
        enrollment=approval.enrollment,
        kind="approval",
        step=approval.step,
        detail=detail[:300],
        actor=None if approval.expired else user,
    )


def _close_handoff(approval: Approval, *, user: Any) -> None:
    """The handoff existed for its held messages: once none is pending it is resolved and the
    contact's journeys carry on (unless another handoff still holds the contact)."""
    handoff = approval.handoff
    if Approval.objects.filter(handoff=handoff, decision=ApprovalDecision.PENDING).exists():
        return
    if not Handoff.objects.filter(pk=handoff.pk, status__in=ACTIVE_STATUSES).exists():
        return  # resolved by hand already
    resolution = _summary(approval)
    handoff_resolve(
        handoff_id=handoff.pk,
        user=user,  # None: the expiry sweep closes it
        resolution=resolution,
        resume_automation=True,
        may_override=True,  # who may decide was checked above
        because="" if user else f"Approval #{approval.pk} expired ({resolution.split(': ')[-1]})",
        event_data={} if user else {"expired": True},
    )


def _summary(approval: Approval) -> str:
    if approval.expired:
        verb = "sent as is" if approval.decision != ApprovalDecision.REJECTED else "not sent"
        return f"Approval expired: {verb}"
    return str(approval.get_decision_display())


def _already(approval: Approval) -> str:
    if approval.expired:
        return f"This message was already decided when it expired ({_summary(approval).lower()})"
    who = display_name(approval.decided_by) if approval.decided_by else "someone"
    return f"Already decided by {who}: {approval.get_decision_display().lower()}"


# --- Expiry -----------------------------------------------------------------------------------


def approvals_expire_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Apply the default action to every pending approval past its expiry. Each one is its own
    transaction and compare-and-swap: two sweepers (or a sweeper and a person) never apply two
    decisions; the loser moves on."""
    now = now or timezone.now()
    due = list(
        Approval.objects.filter(decision=ApprovalDecision.PENDING, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("id", "expiry_action")[:limit]
    )
    done = 0
    for approval_id, action in due:
        decision = (
            ApprovalDecision.APPROVED if action == ExpiryAction.SEND else ApprovalDecision.REJECTED
        )
        try:
            _decide(
                approval_id=approval_id,
                user=None,
                decision=decision,
                text="",
                may_override=True,
                expired=True,
                now=now,
            )
        except Conflict:
            continue  # decided meanwhile
        except DomainError:
            log.exception("could not apply the expiry default to approval %s", approval_id)
            continue
        done += 1
    return done
