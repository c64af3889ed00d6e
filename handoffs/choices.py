from django.db import models


class HandoffStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLAIMED = "claimed", "Claimed"
    WAITING_ON_CONTACT = "waiting_on_contact", "Waiting on contact"
    RESOLVED = "resolved", "Resolved"


ACTIVE_STATUSES = (HandoffStatus.OPEN, HandoffStatus.CLAIMED, HandoffStatus.WAITING_ON_CONTACT)


class Trigger(models.TextChoices):
    HIGH_VALUE = "high_value", "High value"
    SENTIMENT = "sentiment", "Sentiment"
    COMPLEXITY = "complexity", "Complexity"
    QUALIFICATION = "qualification", "Qualification"
    STAGE = "stage", "Stage moment"
    APPROVAL = "approval", "Approval"
    MANUAL = "manual", "Manual"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class HandoffEventKind(models.TextChoices):
    CREATED = "created", "Raised"
    EVIDENCE_ADDED = "evidence_added", "Evidence added"
    CLAIMED = "claimed", "Claimed"
    RELEASED = "released", "Released"
    REASSIGNED = "reassigned", "Reassigned"
    REPLIED = "replied", "Replied"
    CONTACT_REPLIED = "contact_replied", "Contact replied"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Reopened"
    AFTER_HOURS_REPLY = "after_hours_reply", "After-hours reply sent"
    BREACHED = "breached", "SLA breached"
    ESCALATED = "escalated", "Escalated"
    ESCALATION_FAILED = "escalation_failed", "Could not escalate"


class SlaTarget(models.TextChoices):
    """The due times a handoff can miss (docs/sla.md)."""

    FIRST_RESPONSE = "first_response", "First reply"
    NEXT_RESPONSE = "next_response", "Next reply"
    RESOLUTION = "resolution", "Resolution"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    CHAT = "chat", "Chat"


class Direction(models.TextChoices):
    IN = "in", "Inbound"
    OUT = "out", "Outbound"


class OutboxStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled (a person took over)"
