from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from portal.choices import AssignmentMode, AvailabilityStatus, EventType, Role, Weekday
from portal.roles import TEAM_PERMISSIONS


class Team(models.Model):
    slug = models.SlugField(unique=True, max_length=50)
    name = models.CharField(max_length=100)
    first_response_minutes = models.PositiveIntegerField(
        default=60,
        help_text="Default first-response target for this team's handoffs, in minutes.",
    )
    reopen_window_minutes = models.PositiveIntegerField(
        default=72 * 60,
        help_text="A contact writing again within this long after a handoff was resolved "
        "reopens it; later, it is a new conversation.",
    )
    assignment_mode = models.CharField(
        max_length=20,
        choices=AssignmentMode.choices,
        default=AssignmentMode.MANUAL,
        help_text="Manual: people claim from the pool. Round robin / least loaded: new and "
        "waiting handoffs are claimed for an available member under their capacity "
        "(docs/assignment.md).",
    )
    round_robin_cursor = models.BigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="User id of the last person round robin gave a handoff to; the next turn "
        "goes to the next id after it. Updated under the team row's lock.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = TEAM_PERMISSIONS

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """Person × team × role: the source of truth for who may do what (see portal/roles.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_one_role_per_team")
        ]
        ordering = ["team__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} of {self.team}"


class Availability(models.Model):
    """A person's explicit availability for auto-assignment: a status they set, working hours
    in their own time zone, and a capacity. Per person, not per membership: one pair of hands
    works every team's handoffs, so load and capacity count across teams (docs/assignment.md)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability"
    )
    status = models.CharField(
        max_length=10, choices=AvailabilityStatus.choices, default=AvailabilityStatus.OFFLINE
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="IANA name, e.g. Europe/London."
    )
    capacity = models.PositiveSmallIntegerField(
        default=5,
        help_text="Most active handoffs auto-assignment gives this person, across teams. "
        "Their own claims and a lead's reassignments may go past it.",
    )
    last_assigned_at = models.DateTimeField(
        null=True, blank=True, help_text="Last auto-assignment: least loaded's tie-break."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "availability"
        ordering = ["user__username"]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_status_display()}"


class WorkingPeriod(models.Model):
    """One stretch of working hours on a weekday, in the person's time zone. An end at or before
    the start runs past midnight into the next day (22:00–06:00); 00:00–00:00 is the whole day."""

    availability = models.ForeignKey(Availability, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["weekday", "starts"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="working_period_weekday")
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}"


class ApiKey(models.Model):
    """An integration's key. Only a SHA-256 of the secret is stored; keys are long and random,
    so a fast hash is enough and lookups stay O(1) by prefix."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    can_read_handoffs = models.BooleanField(
        default=False, help_text="May list handoffs and subscribe to the event stream."
    )
    teams = models.ManyToManyField(
        Team, blank=True, help_text="Teams whose handoffs it may read (none = every team)."
    )
    can_manage_contact_data = models.BooleanField(
        default=False,
        help_text="May export and erase the personal data of contacts it may read (subject "
        "access and erasure requests; docs/privacy.md). Needs 'can read handoffs'.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Requests per minute this key may make, ingest and reads together; more get "
        "429 with Retry-After. Empty: the default (BATON_RATE_LIMIT_KEY_PER_MINUTE). 0: no limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    # DRF's IsAuthenticated checks request.user.is_authenticated; a key stands in for a user.
    is_authenticated = True
    is_anonymous = False


class Event(models.Model):
    """The durable event log behind the live stream. `id` is the stream's `seq`: ids are taken
    under a transaction-scoped lock, so they increase in commit order (portal/realtime.py)."""

    type = models.CharField(max_length=40, choices=EventType.choices)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    handoff_id = models.BigIntegerField(db_index=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["team", "id"], name="event_team_seq")]

    def __str__(self) -> str:
        return f"#{self.id} {self.type}"


class EventLogState(models.Model):
    """One row: the highest seq pruned from the log, so a too-old `since` can be told to reset."""

    pruned_through = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"event log pruned through #{self.pruned_through}"


class TeamUserObjectPermission(UserObjectPermissionBase):
    """Guardian per-team user permissions with a real foreign key, so visibility is a join."""

    content_object = models.ForeignKey(Team, on_delete=models.CASCADE)


class TeamGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Team, on_delete=models.CASCADE)


from portal.integrations.models import InboundWebhook, WebhookDelivery  # noqa: E402, F401
