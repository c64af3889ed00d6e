"""What each dashboard number means, in one place: PRODUCT.md's definitions (shown verbatim on
hover), and the conditions on a handoff that the rollups count and the drill-down lists, so the
list behind a number always adds up to it."""

from __future__ import annotations

from django.db.models import F, Q

from handoffs.choices import HandoffStatus

# PRODUCT.md, "Metrics (as the dashboard defines them)": verbatim.
DEFINITIONS: dict[str, tuple[str, str]] = {
    "speed_to_lead": (
        "Speed-to-lead",
        "signal that raised a handoff → first human reply to the contact",
    ),
    "first_response": (
        "First response time",
        "handoff created (or next business opening) → first human reply, in business time",
    ),
    "sla_adherence": (
        "SLA adherence",
        "share of handoffs whose first response (and resolution, where set) met the due time",
    ),
    "time_in_stage": (
        "Time-in-stage",
        "per Loop stage: median and p90 of time an enrollment spent in it",
    ),
    "drop_off": (
        "Drop-off rate",
        "per stage: enrollments that left the journey (dropped/opted out) ÷ those that entered",
    ),
    "automation_mix": (
        "Automation mix",
        "automated touches vs human touches per stage, per week",
    ),
    "suppressed": (
        "Suppressed touches",
        "automated touches that governance deferred or blocked, by rule",
    ),
    "handoff_volume": (
        "Handoff volume",
        "by trigger, team, priority; share resolved and handed back to automation",
    ),
    "outcomes": (
        "Outcomes",
        "meeting rate, win rate, renewal rate, from outcome signals",
    ),
}

# How each outcome rate is taken from outcome signals (docs/dashboard.md).
LEAD_SIGNAL = "form_submitted"
MEETING_SIGNAL = "meeting_booked"
WON_SIGNAL, LOST_SIGNAL = "deal_won", "deal_lost"
RENEWAL_DUE_SIGNAL, RENEWED_SIGNAL = "renewal_due", "renewed"
OUTCOME_SIGNALS = (
    LEAD_SIGNAL,
    MEETING_SIGNAL,
    WON_SIGNAL,
    LOST_SIGNAL,
    RENEWAL_DUE_SIGNAL,
    RENEWED_SIGNAL,
)
OUTCOME_RATES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # key: (label, numerator signal, denominator signals)
    "meeting_rate": ("Meeting rate", MEETING_SIGNAL, (LEAD_SIGNAL,)),
    "win_rate": ("Win rate", WON_SIGNAL, (WON_SIGNAL, LOST_SIGNAL)),
    "renewal_rate": ("Renewal rate", RENEWED_SIGNAL, (RENEWAL_DUE_SIGNAL,)),
}
OUTCOME_HOVER = {
    "meeting_rate": "meetings booked ÷ new leads (form_submitted signals) in the period",
    "win_rate": "deals won ÷ deals won or lost in the period",
    "renewal_rate": "renewals (renewed signals) ÷ renewals coming due in the period",
}

# Stays that end with the contact leaving the journey: journeys/journey_map.py's drop-off.
DROP_OUTCOMES = ("dropped", "unenrolled")

# A handoff's SLA: missed when any clock breached or a reply/resolution came after its due
# time; met when the first reply (and the resolution, where one is due) came in time. Others
# are still running and count in neither.
SLA_MISSED = (
    Q(breached=True)
    | Q(first_responded_at__gt=F("first_response_due_at"))
    | Q(resolved_at__gt=F("resolution_due_at"))
)
SLA_MET = Q(breached=False, first_responded_at__lte=F("first_response_due_at")) & (
    Q(resolution_due_at__isnull=True) | Q(resolved_at__lte=F("resolution_due_at"))
)
RESPONDED = Q(first_responded_at__isnull=False)
RESOLVED = Q(status=HandoffStatus.RESOLVED)
HANDED_BACK = Q(status=HandoffStatus.RESOLVED, resume_automation=True)

# The handoff numbers the dashboard links to a list of: key → (label, condition).
HANDOFF_METRICS: dict[str, tuple[str, Q]] = {
    "raised": ("Raised", Q()),
    "responded": ("Answered", RESPONDED),
    "from_signal": ("Answered, raised by a signal", RESPONDED & Q(signal__isnull=False)),
    "awaiting": ("No reply yet", Q(first_responded_at__isnull=True)),
    "sla_met": ("Met the SLA", SLA_MET),
    "sla_missed": ("Missed the SLA", SLA_MISSED),
    "breached": ("Breached", Q(breached=True)),
    "resolved": ("Resolved", RESOLVED),
    "handed_back": ("Handed back to automation", HANDED_BACK),
}
