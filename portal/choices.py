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


class AssignmentMode(models.TextChoices):
    MANUAL = "manual", "Manual (people claim from the pool)"
    ROUND_ROBIN = "round_robin", "Round robin"
    LEAST_LOADED = "least_loaded", "Least loaded"


class AvailabilityStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    BUSY = "busy", "Busy"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"
