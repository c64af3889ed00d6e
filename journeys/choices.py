from django.db import models


class LoopStage(models.TextChoices):
    ACQUIRE = "acquire", "Acquire"
    ONBOARD = "onboard", "Onboard"
    ADOPT = "adopt", "Adopt"
    EXPAND = "expand", "Expand"
    RENEW = "renew", "Renew"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED_FOR_HUMAN = "paused_for_human", "Paused for a human"
    COMPLETED = "completed", "Completed"
    DROPPED = "dropped", "Dropped"


class VisitOutcome(models.TextChoices):
    ADVANCED = "advanced", "Moved on"
    COMPLETED = "completed", "Completed"
    DROPPED = "dropped", "Dropped"
    UNENROLLED = "unenrolled", "Unenrolled"


LIVE_ENROLLMENT_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED_FOR_HUMAN)


class StepKind(models.TextChoices):
    SEND_MESSAGE = "send_message", "Send a message"
    WAIT = "wait", "Wait"
    BRANCH = "branch", "Branch"
    ASK = "ask", "Ask a question"
    HANDOFF = "handoff", "Hand off to a person"
    UPDATE_FIELDS = "update_fields", "Update fields"
    ADVANCE_STAGE = "advance_stage", "Advance to a stage"
    END = "end", "End"


class StepMode(models.TextChoices):
    AUTOMATION = "automation", "Automation"
    HUMAN = "human", "Human"
    HYBRID = "hybrid", "Hybrid"


# An enrollment's `waiting_for` until its first step has run (journeys/engine.py): no signal type
# can look like it (they start with a letter or digit).
WAITING_FIRST_STEP = "(first step)"
