"""What a triage decision leads to, before anything is done: the handoff it raises (trigger,
priority, reason, evidence, whom it is offered to), the bot's reply, the opt-out. Pure: the
ingest service (`services.message_triage`) carries a plan out; the admin "Try a message" page
shows the same plan and carries out nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handoffs.choices import Priority, Trigger
from handoffs.triage.choices import SENTIMENT_LABELS, TriageLabel
from handoffs.triage.classify import Decision

QUOTE_CHARS = 200


@dataclass(frozen=True)
class Plan:
    decision: Decision
    opt_out: bool = False  # the message's channel is marked opted out
    trigger: str = ""  # the handoff raised ("" for none)
    priority: str = ""
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    offer_to_lead: bool = False  # offered to the owning team's lead (its director if no lead)
    reply: str = ""  # what the bot sends, signature included ("" for nothing)
    reply_kind: str = ""  # "faq answer" or "holding reply"

    @property
    def needs_human(self) -> bool:
        return self.decision.needs_human


def triage_plan(
    decision: Decision,
    *,
    text: str,
    channel_label: str,
    holding_reply: str,
    signature: str,
    handoff_open: bool = False,
) -> Plan:
    """`handoff_open`: a person already has the conversation, so only the label is recorded
    (and an opt-out honoured); nothing is raised and the bot stays quiet."""
    opt_out = decision.label == TriageLabel.OPT_OUT
    if handoff_open:
        return Plan(decision=decision, opt_out=opt_out)
    if decision.label in SENTIMENT_LABELS:
        why = f"VADER {signed(decision.sentiment)}"
        if decision.matched or decision.phrase:
            why += f"; matched '{decision.matched or decision.phrase}'"
        label = {
            TriageLabel.ANGRY: "Angry reply",
            TriageLabel.CONFUSED: "Confused reply",
            TriageLabel.OPT_OUT: f"Opted out of {channel_label}",
        }[decision.label]
        return Plan(
            decision=decision,
            opt_out=opt_out,
            trigger=Trigger.SENTIMENT,
            priority=Priority.HIGH if decision.label == TriageLabel.ANGRY else Priority.NORMAL,
            reason=f"{label} ({why})",
            evidence={
                "type": decision.label,
                "detail": f"“{quote(text)}” — {why}",
                "sentiment": decision.sentiment,
                "phrase": decision.phrase,
                "matched": decision.matched,
                "rule": decision.rule,
            },
            offer_to_lead=True,
        )
    if decision.label == TriageLabel.FAQ and decision.answer:
        return Plan(
            decision=decision,
            reply=f"{decision.answer.answer}\n\n{signature}",
            reply_kind="faq answer",
        )
    if decision.label == TriageLabel.QUESTION:
        return Plan(
            decision=decision,
            trigger=Trigger.COMPLEXITY,
            priority=Priority.NORMAL,
            reason=f"Question the FAQ cannot answer: “{quote(text)}”",
            evidence={
                "type": "question",
                "detail": candidates_detail(decision),
                "phrase": decision.phrase,
                "matched": decision.matched,
                "rule": decision.rule,
                "candidates": [
                    {"faq_id": c.entry_id, "question": c.question, "score": c.score}
                    for c in decision.candidates
                ],
            },
            reply=f"{holding_reply}\n\n{signature}",
            reply_kind="holding reply",
        )
    return Plan(decision=decision)


def candidates_detail(decision: Decision) -> str:
    if decision.phrase:
        detail = f"A specialist topic: matched '{decision.matched or decision.phrase}'."
        return detail if not decision.candidates else f"{detail} {_best(decision)}"
    if not decision.candidates:
        return "No FAQ entry shares its words."
    return _best(decision)


def _best(decision: Decision) -> str:
    best = "; ".join(f"“{c.question}” {c.score:.2f}" for c in decision.candidates)
    return f"Best FAQ matches: {best}"


def quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 1] + "…"


def signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")
