"""Every state change of a handoff, its conversation and its outbox. Each service writes its
audit row in the same transaction and announces the change only after commit.

The package: `raising`, `ownership` (claim, release, reassign, resolve), `replies` and
`inbound` (messages from contacts), with the shared helpers in `common`.
"""

from handoffs.services.inbound import (
    InboundMessage,
    Received,
    message_receive,
)
from handoffs.services.ownership import (
    handoff_auto_assign,
    handoff_claim,
    handoff_reassign,
    handoff_release,
    handoff_resolve,
    handoffs_auto_assign_waiting,
)
from handoffs.services.raising import (
    MAX_EVIDENCE_ITEMS,
    RaiseRequest,
    handoff_raise,
)
from handoffs.services.replies import (
    MAX_REPLY_CHARS,
    conversation_for,
    handoff_reply,
    reply_route,
    signature_line,
)

__all__ = [
    "MAX_EVIDENCE_ITEMS",
    "MAX_REPLY_CHARS",
    "InboundMessage",
    "RaiseRequest",
    "Received",
    "conversation_for",
    "handoff_auto_assign",
    "handoff_claim",
    "handoff_raise",
    "handoff_reassign",
    "handoff_release",
    "handoff_reply",
    "handoff_resolve",
    "handoffs_auto_assign_waiting",
    "message_receive",
    "reply_route",
    "signature_line",
]
