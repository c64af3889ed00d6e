from django.db import models


class PolicyAction(models.TextChoices):
    DEFER = "defer", "Defer to the next allowed time"
    SUPPRESS = "suppress", "Suppress (never send it)"


class ToneKind(models.TextChoices):
    BANNED = "banned", "Banned phrases"
    DISCLOSURE = "disclosure", "Required disclosure"
    PROMISE = "promise", "Promises need approval"


class PromiseKind(models.TextChoices):
    PRICE = "price", "Prices"
    DISCOUNT = "discount", "Discounts"
    DATE = "date", "Dates and deadlines"
    FEATURE = "feature", "Features"


class ExpiryAction(models.TextChoices):
    SEND = "send", "Send as is"
    REJECT = "reject", "Reject (do not send)"


class TouchAction(models.TextChoices):
    """What governance did to one automated touch (the dashboard counts these by rule)."""

    DEFERRED = "deferred", "Deferred"
    SUPPRESSED = "suppressed", "Suppressed"
    SENT_AFTER_DEFERRAL = "sent_after_deferral", "Sent after deferral"
    BLOCKED = "blocked", "Blocked (banned phrase)"
    HELD = "held", "Held for approval"


class RuleKind(models.TextChoices):
    CAP = "cap", "Frequency cap"
    QUIET_HOURS = "quiet_hours", "Quiet hours"
    TONE = "tone", "Tone rule"


class ApprovalDecision(models.TextChoices):
    PENDING = "pending", "Waiting for a decision"
    APPROVED = "approved", "Approved: sent as is"
    EDITED = "edited", "Edited and sent"
    REJECTED = "rejected", "Rejected: not sent"


class WindowUnit(models.TextChoices):
    HOURS = "hours", "hours"
    DAYS = "days", "days"
