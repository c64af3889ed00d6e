"""Writes for contacts, accounts and enrollments."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from journeys.choices import LIVE_ENROLLMENT_STATUSES, EnrollmentStatus
from journeys.models import Account, Contact, Enrollment, EnrollmentEvent, HandoffRule, Journey

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


def enrollment_start(*, contact: Contact, journey: Journey) -> Enrollment | None:
    """Enroll `contact` unless already live in `journey` (at most once at a time)."""
    if Enrollment.objects.filter(
        contact=contact, journey=journey, status__in=LIVE_ENROLLMENT_STATUSES
    ).exists():
        return None
    first_stage = journey.stages.order_by("order").first()
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                contact=contact, journey=journey, stage=first_stage, stage_entered_at=timezone.now()
            )
    except IntegrityError:  # a concurrent signal enrolled them first
        return None
    EnrollmentEvent.objects.create(
        enrollment=enrollment,
        kind="enrolled",
        detail=f"Enrolled in {journey.name}" + (f" at {first_stage.name}" if first_stage else ""),
    )
    return enrollment


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
