"""Writes for contacts, accounts and enrollments."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from handoffs.choices import OutboxStatus
from handoffs.models import OutboxEntry
from journeys.choices import (
    LIVE_ENROLLMENT_STATUSES,
    WAITING_FIRST_STEP,
    EnrollmentStatus,
    VisitOutcome,
)
from journeys.models import (
    Account,
    Contact,
    Enrollment,
    EnrollmentEvent,
    HandoffRule,
    Journey,
    JourneyVersion,
    Stage,
    StageVisit,
)
from portal.errors import Conflict, InvalidInput
from portal.integrations.outbound_events import enrollment_events_record

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
    *,
    pairs: list[tuple[Contact, Journey]],
    versions: dict[int, Any] | None = None,
    properties: dict[int, Any] | None = None,
) -> list[Enrollment]:
    """Enroll each (contact, journey) not already live in it: one read, one insert, one audit
    insert for a whole batch. Each is stored due now, waiting for its first step (the engine
    runs it); `properties` maps a contact id to the enrolling signal's properties, which
    templates may use. A concurrent enrollment trips the partial unique index and the caller's
    transaction retries (journeys/ingestion.py)."""
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
            version = (versions or {}).get(journey.pk)
            fresh.append(
                Enrollment(
                    contact=contact,
                    journey=journey,
                    stage=journey.first_stage,
                    stage_entered_at=now,
                    version=version,
                    state={"properties": (properties or {}).get(contact.pk, {})}
                    if version is not None
                    else {},
                    due_at=now if version is not None else None,
                    waiting_for=WAITING_FIRST_STEP if version is not None else "",
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
    enrollment_events_record("enrollment.started", fresh)
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
    enrollment_events_record("enrollment.stage_changed", [enrollment])
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
    enrollment_events_record(
        f"enrollment.{kind}", [m.enrollment for m in moved], reason=detail, status=target
    )
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


# Ops by hand (Django admin): enroll, unenroll, and move enrollments to a new journey version.


def enrollment_enroll_by_hand(*, contact: Contact, journey: Journey, actor: Any) -> Enrollment:
    """Put a contact into a journey from admin: it starts on the live version and runs up to its
    first waiting step, as if a signal had enrolled it, and the timeline says who did it."""
    from journeys import engine  # the engine imports this module

    if not journey.is_active:
        raise Conflict(f"{journey.name} is inactive; make it active before enrolling anyone.")
    version = engine.latest_versions([journey]).get(journey.pk)
    if version is None:
        raise Conflict(f"{journey.name} has no published version yet; publish it first.")
    already = f"{contact.display_name} is already in {journey.name}."
    with transaction.atomic():
        try:
            # Race prevented: two people (or a person and a signal) enrolling the contact at
            # once. Both pass the "already live?" read; the partial unique index lets one insert
            # win, and the savepoint keeps the loser's transaction usable to answer Conflict.
            with transaction.atomic():
                started = enrollments_start_many(
                    pairs=[(contact, journey)], versions={journey.pk: version}
                )
        except IntegrityError:
            raise Conflict(already) from None
        if not started:
            raise Conflict(already)
        enrollment = started[0]
        where = f" at {enrollment.stage.name}" if enrollment.stage else ""
        EnrollmentEvent.objects.filter(enrollment=enrollment, kind="enrolled").update(
            actor=actor, detail=f"Enrolled by hand in {journey.name} v{version.number}{where}"
        )
        engine.enrollments_begin(enrollments=[enrollment])
    return Enrollment.objects.select_related("version").get(pk=enrollment.pk)


@transaction.atomic
def enrollment_unenroll(*, enrollment_id: int, actor: Any, reason: str = "") -> Enrollment:
    """Take a contact out of a journey where it stands: its stay in the stage ends as
    unenrolled, and automated messages it queued but has not sent yet stay unsent."""
    # Row lock: a reply or the sweep may be moving this enrollment on right now. We act on what
    # it leaves, and after us it finds the enrollment ended and does nothing.
    enrollment = (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("contact", "journey")
        .filter(pk=enrollment_id)
        .first()
    )
    if enrollment is None:
        raise InvalidInput(f"There is no enrollment #{enrollment_id}.")
    if enrollment.status not in LIVE_ENROLLMENT_STATUSES:
        raise Conflict(
            f"{enrollment.contact.display_name} is no longer in {enrollment.journey.name} "
            f"(it is {enrollment.get_status_display().lower()})."
        )
    now = timezone.now()
    enrollment.status = EnrollmentStatus.DROPPED
    # The runner keeps its own status and due time in the state: they say the same.
    enrollment.state = {**enrollment.state, "status": "dropped", "due_at": None}
    enrollment.due_at = None
    enrollment.waiting_for = ""
    enrollment.paused_at = None
    enrollment.save(
        update_fields=["status", "state", "due_at", "waiting_for", "paused_at", "updated_at"]
    )
    stage_visit_close(enrollment=enrollment, outcome=VisitOutcome.UNENROLLED, at=now)
    queued = list(
        OutboxEntry.objects.filter(
            message__enrollment=enrollment,
            message__automated=True,
            status=OutboxStatus.QUEUED,
        ).values_list("id", flat=True)
    )
    # Compare-and-swap on status=queued, on the outbox table alone so PostgreSQL re-checks the
    # status of a row a worker is claiming: an entry already leased ("sending") is on its way
    # and is left alone; a queued one can no longer be claimed after this.
    cancelled = OutboxEntry.objects.filter(id__in=queued, status=OutboxStatus.QUEUED).update(
        status=OutboxStatus.CANCELLED, lease_until=None, last_error="unenrolled"
    )
    detail = reason.strip() or "Unenrolled by hand"
    if cancelled:
        detail += f" ({cancelled} queued message{'s' if cancelled != 1 else ''} cancelled)"
    EnrollmentEvent.objects.create(
        enrollment=enrollment,
        kind="unenrolled",
        step=enrollment.step,
        detail=detail[:300],
        actor=actor,
    )
    enrollment_events_record("enrollment.dropped", [enrollment], reason=detail)
    return enrollment


@dataclass
class MigrationResult:
    moved: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # enrollment id → why it stayed


@transaction.atomic
def enrollments_migrate(
    *, enrollment_ids: list[int], version: JourneyVersion, actor: Any
) -> MigrationResult:
    """Move live enrollments of `version`'s journey onto it. Each carries on from the step it
    is at, with its answers and due time, so it may only move when that step is in `version`
    with the same kind; otherwise it stays where it is and the result says why."""
    # Row locks, taken in id order so two migrations cannot deadlock: a reply or the sweep must
    # not move an enrollment on between our check of its step and the version swap.
    enrollments = list(
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("version")
        .filter(pk__in=enrollment_ids)
        .order_by("pk")
    )
    foreign = [e.pk for e in enrollments if e.journey_id != version.journey_id]
    if foreign:
        raise InvalidInput(
            f"v{version.number} is a version of {version.journey.name}; "
            f"enrollment(s) {', '.join(f'#{pk}' for pk in foreign)} are in another journey.",
            {"enrollment_ids": [f"#{pk} is not in {version.journey.name}" for pk in foreign]},
        )
    result = MigrationResult()
    found = {e.pk for e in enrollments}
    result.refused.update({pk: "no such enrollment" for pk in enrollment_ids if pk not in found})
    steps = _steps_by_key(version.definition)
    events = []
    for enrollment in enrollments:
        refusal = _migration_refusal(enrollment, version, steps)
        if refusal:
            result.refused[enrollment.pk] = refusal
            continue
        previous = enrollment.version
        assert previous is not None  # _migration_refusal refuses enrollments with no version
        step = steps[enrollment.state["step"]]
        if step.get("kind") == "wait" and enrollment.status == EnrollmentStatus.ACTIVE:
            # What a wait listens for is its config; the new version may listen for another signal.
            until = (step.get("config") or {}).get("until")
            enrollment.waiting_for = until[:64] if isinstance(until, str) else ""
        enrollment.version = version
        enrollment.save(update_fields=["version", "waiting_for", "updated_at"])
        events.append(
            EnrollmentEvent(
                enrollment=enrollment,
                kind="migrated",
                step=enrollment.step,
                detail=f"v{previous.number} → v{version.number}",
                actor=actor,
            )
        )
        result.moved.append(enrollment.pk)
    EnrollmentEvent.objects.bulk_create(events)
    return result


def _steps_by_key(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        step["key"]: step
        for step in definition.get("steps", [])
        if isinstance(step, dict) and isinstance(step.get("key"), str)
    }


def _migration_refusal(
    enrollment: Enrollment, version: JourneyVersion, steps: dict[str, dict[str, Any]]
) -> str:
    """Why this enrollment cannot continue on `version`, or "" when it can."""
    target = f"v{version.number}"
    if enrollment.status not in LIVE_ENROLLMENT_STATUSES:
        return f"it is {enrollment.get_status_display().lower()}, not live"
    if enrollment.version_id == version.pk:
        return f"it is already on {target}"
    if enrollment.version is None:
        return "it runs no published version"
    if enrollment.waiting_for == WAITING_FIRST_STEP:
        return "it has not run its first step yet; try again in a moment"
    key = enrollment.state.get("step")
    if not isinstance(key, str) or not key:
        return "it is not at a step"
    if key not in steps:
        return f"step '{key}' is not in {target}"
    old = _steps_by_key(enrollment.version.definition).get(key) or {}
    old_kind, new_kind = old.get("kind"), steps[key].get("kind")
    if old_kind != new_kind:
        return (
            f"step '{key}' changed kind ({old_kind} in v{enrollment.version.number}, "
            f"{new_kind} in {target})"
        )
    return ""
