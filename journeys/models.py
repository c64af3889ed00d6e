from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Replace, Upper

from handoffs.choices import Priority, Trigger
from journeys.choices import (
    LIVE_ENROLLMENT_STATUSES,
    EnrollmentStatus,
    LoopStage,
    StepKind,
    StepMode,
    VisitOutcome,
)
from journeys.playbook.choices import Persona
from portal.choices import Role


class Account(models.Model):
    external_id = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name or self.external_id


PHONE_PUNCTUATION = (" ", "-", "(", ")", ".")


def phone_digits(field: str = "phone") -> Combinable:
    """The phone column without the punctuation the API allows in it (`+44 7700 900-123` →
    `+447700900123`), as SQL that works on every backend; indexed, so a channel's lookup by
    number does not scan (portal/integrations/contacts.py)."""
    expression: Combinable = F(field)
    for char in PHONE_PUNCTUATION:
        expression = Replace(expression, Value(char), Value(""))
    return expression


class Contact(models.Model):
    external_id = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    opted_out_channels = models.JSONField(default=list, blank=True)
    last_inbound_channel = models.CharField(max_length=20, blank=True)
    persona = models.CharField(
        max_length=30,
        choices=Persona.choices,
        blank=True,
        help_text="From the `persona` property of its signals; picks playbook content.",
    )
    # The right to erasure (journeys/privacy.py): when and by whom the personal data went.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    erasure_note = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("export_contact_data", "Export a contact's personal data"),
            ("erase_contact_data", "Erase a contact's personal data"),
        ]
        indexes = [
            models.Index(fields=["email"], name="contact_email"),
            # Channels find the contact behind an address: email without regard to case (iexact
            # is UPPER(email) = UPPER(%s) on PostgreSQL), phone exactly or by its digits.
            models.Index(Upper("email"), name="contact_email_upper"),
            models.Index(fields=["phone"], name="contact_phone"),
            models.Index(phone_digits(), name="contact_phone_digits"),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.phone or self.external_id


class Signal(models.Model):
    """An event from outside, stored once. Idempotency is per API key: (key, idempotency_key) is
    unique, and `body_hash` tells a true repeat from a conflicting reuse of the key."""

    api_key = models.ForeignKey(
        "portal.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    body_hash = models.CharField(max_length=64)
    type = models.CharField(max_length=64)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="signals")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    properties = models.JSONField(default=dict, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="signal_idempotent_per_key",
            )
        ]
        indexes = [
            models.Index(fields=["contact", "-occurred_at"], name="signal_contact_time"),
            models.Index(fields=["type", "-occurred_at"], name="signal_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class HandoffRule(models.Model):
    """When a signal of `signal_type` matches `condition` (journeys/rules/), raise a handoff."""

    name = models.CharField(max_length=100)
    signal_type = models.CharField(max_length=64, db_index=True)
    condition = models.JSONField(
        default=dict,
        help_text='A JSON condition tree, e.g. {"path": "properties.budget", "op": ">=", '
        '"value": 50000}. See docs/rules.md.',
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    team = models.ForeignKey("portal.Team", on_delete=models.PROTECT, related_name="rules")
    offer_to_role = models.CharField(
        max_length=20,
        choices=Role.choices,
        blank=True,
        help_text="Offer the handoff first to team members with this role (top of their inbox).",
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    reason_template = models.CharField(
        max_length=500,
        help_text="Why a person is needed, e.g. 'Budget {properties.budget} "
        "{properties.currency} ≥ 50,000'.",
    )
    enabled = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["signal_type", "name"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ExchangeRate(models.Model):
    """What one unit of a currency is worth in the base currency (settings.BATON_BASE_CURRENCY),
    so a rule written in GBP also catches a budget sent in USD (docs/rules.md)."""

    currency = models.CharField(
        max_length=3,
        unique=True,
        validators=[RegexValidator(r"^[A-Z]{3}$", "A three-letter code in capitals, e.g. USD.")],
    )
    rate = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        validators=[MinValueValidator(Decimal("0.00000001"))],
        help_text="Value of 1 unit of this currency in the base currency.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["currency"]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate.normalize()} {settings.BATON_BASE_CURRENCY}"


class Journey(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    enroll_on_signal_type = models.CharField(
        max_length=64, blank=True, help_text="Enroll a contact when a signal of this type arrives."
    )
    enroll_condition = models.JSONField(
        default=dict,
        blank=True,
        help_text="Only enroll when the signal also matches this condition, in the handoff rules' "
        'language, e.g. {"path": "properties.plan", "op": "==", "value": "pro"}. Empty: always.',
    )
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    @property
    def first_stage(self) -> Stage | None:
        """Uses prefetched stages when the caller prefetched them (ingestion does)."""
        stages = sorted(self.stages.all(), key=lambda stage: (stage.order, stage.pk))
        return stages[0] if stages else None


class Stage(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    loop_stage = models.CharField(max_length=10, choices=LoopStage.choices)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["journey", "order"]

    def __str__(self) -> str:
        return f"{self.journey}: {self.name} ({self.get_loop_stage_display()})"


class Step(models.Model):
    """One step of a journey as ops edit it. Publishing turns the journey's stages and steps into
    an immutable JourneyVersion definition (docs/journeys.md), which enrollments run."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="steps")
    key = models.SlugField(max_length=50, help_text="Other steps refer to this step by its key.")
    order = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    mode = models.CharField(max_length=12, choices=StepMode.choices, default=StepMode.AUTOMATION)
    team = models.ForeignKey(
        "portal.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    config = models.JSONField(
        default=dict, blank=True, help_text="What the step does; see docs/journeys.md."
    )

    class Meta:
        ordering = ["journey", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "key"], name="step_key_unique_per_journey")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_kind_display()})"


class JourneyVersion(models.Model):
    """A published, immutable definition. Enrollments keep the version they started with."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["journey", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "number"], name="journey_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.journey} v{self.number}"


class Enrollment(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="enrollments")
    journey = models.ForeignKey(Journey, on_delete=models.PROTECT, related_name="enrollments")
    stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(
        max_length=20, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE
    )
    stage_entered_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    version = models.ForeignKey(
        JourneyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    waiting_for = models.CharField(max_length=64, blank=True)
    step = models.CharField(
        max_length=50, blank=True, help_text="The step it is at (the journey map counts these)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(status=EnrollmentStatus.ACTIVE, due_at__isnull=False),
                name="enrollment_active_due",
            ),
            models.Index(
                fields=["journey", "step"],
                condition=Q(status__in=LIVE_ENROLLMENT_STATUSES),
                name="enrollment_live_step",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "journey"],
                condition=Q(status__in=LIVE_ENROLLMENT_STATUSES),
                name="enrollment_one_live_per_journey",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.journey} ({self.status})"


class EnrollmentEvent(models.Model):
    """Audit of what a journey did for a contact (every touch, wait, branch, stage change, pause
    and resume) and of what people did to the enrollment; the contact's timeline shows it."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    step = models.CharField(max_length=50, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


class StageVisit(models.Model):
    """One stay of an enrollment in a stage, for the journey map's time-in-stage and drop-off.
    `outcome` says how it ended: moved on to another stage, or the enrollment completed, was
    dropped, or was unenrolled by a person; blank while the contact is still there."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="visits")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="visits")
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=VisitOutcome.choices, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["journey", "entered_at"], name="visit_journey_entered"),
            models.Index(fields=["journey", "left_at"], name="visit_journey_left"),
            # The dashboard's rollup refresh finds stays that began or ended since its last
            # run across every journey (docs/performance-plans.md).
            models.Index(fields=["entered_at"], name="visit_entered"),
            models.Index(fields=["left_at"], name="visit_left"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment"], condition=Q(left_at__isnull=True), name="visit_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.enrollment_id} in {self.stage_id}"


from journeys.playbook.models import ContentItem, NextStepRule, ReplyTemplate  # noqa: E402, F401
