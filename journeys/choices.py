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


LIVE_ENROLLMENT_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED_FOR_HUMAN)
