"""Reads for held messages, narrowed to what the person may see (through the handoff)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.http import Http404

from governance.policies.models import Approval
from handoffs.choices import Trigger
from handoffs.models import Handoff
from handoffs.selectors import handoff_get_for
from portal.errors import log_not_visible


@dataclass(frozen=True)
class Segment:
    """A run of the held text; `finding` is set where a rule's words are highlighted."""

    text: str
    finding: str = ""
    kind: str = ""


@dataclass(frozen=True)
class HeldMessage:
    approval: Approval
    segments: list[Segment]
    draft: str  # what the edit box starts with

    def with_draft(self, text: str | None) -> HeldMessage:
        """The same, with a refused edit back in the box."""
        return HeldMessage(self.approval, self.segments, self.draft if text is None else text)


def approval_context(*, handoff: Handoff, can_work: bool, may_act: bool) -> dict[str, Any]:
    """What the handoff page's held-message panel needs (templates/governance/_approval.html).
    `may_act`: the person owns the handoff, it is unowned, or they lead the team."""
    held = held_messages(handoff=handoff)
    return {"held": held, "can_decide": can_work and (may_act or not handoff.is_active)}


def approval_get_for(*, principal: Any, approval_id: int) -> Approval:
    """The approval if `principal` may see its handoff; otherwise 404, never a hint."""
    handoff_id = (
        Approval.objects.filter(pk=approval_id).values_list("handoff_id", flat=True).first()
    )
    if handoff_id is None:
        log_not_visible(principal, f"approval {approval_id}")
        raise Http404("No such approval")
    handoff_get_for(principal=principal, handoff_id=handoff_id)  # 404 when not theirs
    return Approval.objects.select_related("handoff", "decided_by", "message__outbox").get(
        pk=approval_id
    )


def held_messages(*, handoff: Handoff) -> list[HeldMessage]:
    """The handoff's held messages, oldest first, with the findings marked in the text. One
    query, and none at all for handoffs of other triggers."""
    if handoff.trigger != Trigger.APPROVAL:
        return []
    rows = Approval.objects.filter(handoff=handoff).select_related(
        "decided_by", "message__outbox", "enrollment__journey"
    )
    return [
        HeldMessage(
            approval=row,
            segments=highlight(row.original_text, row.findings),
            draft=row.original_text,
        )
        for row in rows.order_by("created_at", "id")
    ]


def highlight(text: str, findings: list[dict[str, Any]]) -> list[Segment]:
    """Split `text` so every excerpt a finding quotes is its own marked segment (the first
    occurrence of each, case-insensitively; overlapping excerpts keep the earlier one)."""
    spans: list[tuple[int, int, dict[str, Any]]] = []
    for finding in findings:
        excerpt = str(finding.get("excerpt") or "")
        if not excerpt or finding.get("kind") == "disclosure":
            continue
        match = re.search(re.escape(excerpt), text, re.IGNORECASE)
        if match:
            spans.append((match.start(), match.end(), finding))
    spans.sort(key=lambda s: (s[0], -s[1]))
    segments: list[Segment] = []
    at = 0
    for start, end, finding in spans:
        if start < at:
            continue
        if start > at:
            segments.append(Segment(text[at:start]))
        label = f"{finding.get('rule')}: {finding.get('detail')}"
        segments.append(Segment(text[start:end], finding=label, kind=str(finding.get("kind"))))
        at = end
    if at < len(text):
        segments.append(Segment(text[at:]))
    return segments
