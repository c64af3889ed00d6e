from django.db import models


class DurationMetric(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response time (business time)"
    SPEED_TO_LEAD = "speed_to_lead", "Speed-to-lead"
    TIME_IN_STAGE = "time_in_stage", "Time-in-stage"


class TouchKind(models.TextChoices):
    AUTOMATED = "automated", "Automated touch"
    HUMAN = "human", "Human touch"
    INBOUND = "inbound", "Contact's reply"


class Level(models.IntegerChoices):
    """The maturity scale of PRODUCT.md's hybrid-journey table, ad hoc to operationalised."""

    AD_HOC = 1, "Ad hoc"
    DEVELOPING = 2, "Developing"
    DEFINED = 3, "Defined"
    MANAGED = 4, "Managed"
    OPERATIONALISED = 5, "Operationalised"


class Kpi(models.TextChoices):
    """What a maturity capability can be rated on: each is measured from the rollups over the
    dashboard's period (governance/dashboard/maturity.py says how)."""

    DROP_OFF_RATE = "drop_off_rate", "Drop-off rate (%)"
    TIME_IN_STAGE_MEDIAN = "time_in_stage_median", "Time-in-stage, median (hours)"
    SPEED_TO_LEAD_MEDIAN = "speed_to_lead_median", "Speed-to-lead, median (minutes)"
    FIRST_RESPONSE_MEDIAN = "first_response_median", "First response time, median (minutes)"
    SLA_ADHERENCE = "sla_adherence", "SLA adherence (%)"
    MEETING_RATE = "meeting_rate", "Meeting rate (%)"
    WIN_RATE = "win_rate", "Win rate (%)"
    RENEWAL_RATE = "renewal_rate", "Renewal rate (%)"
    REPLY_RATE = "reply_rate", "Replies per 100 automated touches"
    SUPPRESSION_RATE = "suppression_rate", "Touches stopped by governance (%)"
    AUTOMATION_SHARE = "automation_share", "Automation share of touches (%)"
    HANDBACK_RATE = "handback_rate", "Resolved handoffs handed back to automation (%)"
