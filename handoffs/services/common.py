"""What the handoff services share: reading a handoff fresh or under a row lock, announcing
changes through the event log, and the "already claimed by" wording.
"""

from __future__ import annotations

from handoffs.models import Handoff
from handoffs.payloads import display_name, handoff_as_dict
from portal.integrations.outbound_events import outbound_kick_on_commit
from portal.realtime import NewEvent, events_append, lock_event_seq


def _fresh(handoff_id: int) -> Handoff:
    return Handoff.objects.select_related("team", "contact", "assignee").get(id=handoff_id)


def _locked(handoff_id: int) -> Handoff:
    lock_event_seq()  # lock order: the event log before any handoff row (portal/realtime.py)
    # of=("self",): the nullable assignee join cannot be locked on PostgreSQL.
    return (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("team", "contact", "assignee")
        .get(id=handoff_id)
    )


def _announce(handoffs: list[Handoff], event_type: str) -> None:
    events_append(
        NewEvent(type=event_type, team_id=h.team_id, handoff_id=h.pk, payload=handoff_as_dict(h))
        for h in handoffs
    )
    outbound_kick_on_commit()  # webhooks and Slack/Teams read the log (integrations/outbound*)


def _blocked_by(handoff: Handoff) -> str:
    return f"Already claimed by {display_name(handoff.assignee)}" if handoff.assignee else ""
