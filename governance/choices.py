from django.db import models


class BreachAction(models.TextChoices):
    """What the SLA sweep does when a handoff misses a due time (docs/sla.md)."""

    FLAG_ONLY = "flag", "Flag only: the team sees it breached"
    NOTIFY_LEAD = "notify_lead", "Notify the team lead"
    REASSIGN_TO_LEAD = "reassign_lead", "Reassign to the team lead and notify them"
