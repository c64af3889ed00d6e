from django.db import models


class Role(models.TextChoices):
    REP = "rep", "Rep"
    CSM = "csm", "CSM"
    LEAD = "lead", "Lead"
    DIRECTOR = "director", "Director"
    LEADER = "leader", "Revenue leader"
    OPS = "ops", "Ops"


class EventType(models.TextChoices):
    HANDOFF_CREATED = "handoff.created"
    HANDOFF_UPDATED = "handoff.updated"
