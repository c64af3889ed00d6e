"""Writes for contacts, accounts and enrollments."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from journeys.choices import LIVE_ENROLLMENT_STATUSES, EnrollmentStatus, VisitOutcome
from journeys.models import (
    Account,
    Contact,
    Enrollment,
    EnrollmentEvent,
    HandoffRule,
    Journey,
    Stage,
    StageVisit,
)

CONTACT_FIELDS = ("name", "email", "phone", "timezone")

audit_log = logging.getLogger("baton.audit")


def account_upsert(*, external_id: str, name: str | None) -> Account:
    """Create or update by external id; concurrent callers converge on one row (upsert)."""
    fields = {"name": name} if name else {}
    return _upsert(Account, external_id, fields)


def contact_upsert(
    *, external_id: str, fields: dict[str, Any], account: Account | None = None
) -> Contact:
    values = {k: v for k, v in fields.items() if k in CONTACT_FIELDS and v not in (None, "")}
    if account is not None:
        values["account"] = account
    return _upsert(Contact, external_id, values)


def _upsert(model: type[Any], external_id: str, values: dict[str, Any]) -> Any:
    # One INSERT … ON CONFLICT DO UPDATE: no read-then-write race between two ingesting requests.
    row = model(external_id=external_id, **values)
    update_fields = [*values.keys(), "updated_at"]
    model.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["external_id"], update_fields=update_fields
    )
    if row.pk is None:  # backends that cannot return ids from an upsert
        row = model.objects.get(external_id=external_id)
    return row


def enrollments_start_many(
    *, pairs: list[tuple[Contact, Journey]], versions: dict[int, Any] | None = None
) -> list[Enrollment]:
    """Enroll each (contact, journey) not already live in it: one read, one insert, one audit
    insert for a whole batch. A concurrent enrollment trips the partial unique index and the
    caller's transaction retries (journeys/ingestion.py)."""
    wanted = {(c.pk, j.pk): (c, j) for c, j in pairs}
    if not wanted:
        return []
    live = set(
        Enrollment.objects.filter(
            contact_id__in={c for c, _ in wanted},
            journey_id__in={j for _, j in wanted},
            status__in=LIVE_ENROLLMENT_STATUSES,
        ).values_list("contact_id", "journey_id")
    )
    now = timezone.now()
    fresh = []
    for key, (contact, journey) in wanted.items():
        if key not in live:
            first_stage = journey.first_stage
            fresh.append(
                Enrollment(
                    contact=contact,
                    journey=journey,
                    stage=first_stage,
                    stage_entered_at=now,
                    version=(versions or {}).get(journey.pk),
                )
            )
    Enrollment.objects.bulk_create(fresh)
    StageVisit.objects.bulk_create(
        StageVisit(enrollment=e, journey=e.journey, stage=e.stage, entered_at=now)
        for e in fresh
        if e.stage is not None
    )
    EnrollmentEvent.objects.bulk_create(
        EnrollmentEvent(
            enrollment=e,
            kind="enrolled",
            detail=f"Enrolled in {e.journey.name}" + (f" at {e.stage.name}" if e.stage else ""),
        )
        for e in fresh
    )
    return fresh


def enrollment_stage_enter(*, enrollment: Enrollment, stage: Stage, at: datetime) -> bool:
    """Move the enrollment into `stage` (the caller holds its row lock and saves it): the stay
    in the stage it leaves is closed as moved on, a new one opens, and the timeline says so.
    Returns False when it is already there."""
    if enrollment.stage_id == stage.pk:
        return False
    stage_visit_close(enrollment=enrollment, outcome=VisitOutcome.ADVANCED, at=at)
    StageVisit.objects.create(
        enrollment=enrollment, journey_id=enrollment.journey_id, stage=stage, entered_at=at
    )
    enrollment.stage = stage
    enrollment.stage_entered_at = at
    EnrollmentEvent.objects.create(
        enrollment=enrollment,
        kind="stage",
        step=enrollment.step,
        detail=f"Entered {stage.name} ({stage.get_loop_stage_display()})",
    )
    return True


def stage_visit_close(*, enrollment: Enrollment, outcome: str, at: datetime) -> None:
    StageVisit.objects.filter(enrollment=enrollment, left_at__isnull=True).update(
        left_at=at, outcome=outcome
    )


def enrollments_pause_for_contact(*, contact_id: int, reason: str) -> int:
    """A human has the baton: stop automation for this contact in every live journey."""
    return _transition(
        contact_id=contact_id,
        source=EnrollmentStatus.ACTIVE,
        target=EnrollmentStatus.PAUSED_FOR_HUMAN,
        kind="paused",
        detail=reason,
        actor=None,
    )


def enrollments_resume_for_contact(*, contact_id: int, actor: Any, reason: str) -> int:
    """Automation carries on: paused enrollments become active and, after commit, their
    journeys continue where they paused (journeys/tasks.py)."""
    paused = list(
        Enrollment.objects.filter(
            contact_id=contact_id, status=EnrollmentStatus.PAUSED_FOR_HUMAN, version__isnull=False
        ).values_list("id", flat=True)
    )
    if paused:
        from journeys.tasks import enrollments_resume  # tasks import the engine, which imports us

        transaction.on_commit(lambda: enrollments_resume.delay(paused), robust=True)
    return _transition(
        contact_id=contact_id,
        source=EnrollmentStatus.PAUSED_FOR_HUMAN,
        target=EnrollmentStatus.ACTIVE,
        kind="resumed",
        detail=reason,
        actor=actor,
    )


def _transition(
    *, contact_id: int, source: str, target: str, kind: str, detail: str, actor: Any
) -> int:
    """Move the contact's enrollments from `source` to `target`, auditing each one moved.
    Compare-and-swap on status, so a concurrent transition never double-audits a row."""
    moved = []
    for enrollment in Enrollment.objects.filter(contact_id=contact_id, status=source):
        won = Enrollment.objects.filter(pk=enrollment.pk, status=source).update(
            status=target,
            paused_at=timezone.now() if target == EnrollmentStatus.PAUSED_FOR_HUMAN else None,
        )
        if won:
            moved.append(
                EnrollmentEvent(enrollment=enrollment, kind=kind, detail=detail[:300], actor=actor)
            )
    EnrollmentEvent.objects.bulk_create(moved)
    return len(moved)


def handoff_rule_save(*, rule: HandoffRule, actor: Any, changed: list[str]) -> HandoffRule:
    """Save a rule from admin; a change to what it does bumps its version (shown in reasons).
    Full version history with diffs, drafts and rollback arrive with governance."""
    behavioural = set(changed) - {"name", "enabled"}
    with transaction.atomic():
        if rule.pk and behavioural:
            rule.save()
            HandoffRule.objects.filter(pk=rule.pk).update(version=F("version") + 1)
            rule.refresh_from_db(fields=["version"])
        else:
            rule.save()
    audit_log.info(
        "rule %s saved by %s (changed: %s)", rule.pk, getattr(actor, "pk", None), changed
    )
    return rule
