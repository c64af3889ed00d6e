"""Journeys that run: publish a definition, start enrollments, move them on events, and apply
what the runner decided — in one transaction with the enrollment row locked, so an event or a
due time is acted on exactly once (docs/journeys.md)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from governance.policies.services import AutomatedTouch, SendResult, automated_send
from handoffs.models import Message
from handoffs.services import (
    RaiseRequest,
    handoff_raise,
    reply_route,
)
from journeys import design, runner
from journeys.choices import WAITING_FIRST_STEP, EnrollmentStatus
from journeys.models import (
    Account,
    Contact,
    Enrollment,
    EnrollmentEvent,
    Journey,
    JourneyVersion,
    Stage,
)
from journeys.services import enrollment_stage_enter, stage_visit_close
from portal.errors import DomainError, InvalidInput
from portal.integrations.outbound_events import enrollment_events_record
from portal.models import Team

log = logging.getLogger("baton.journeys")

# The engine's own keys, kept beside the runner's state.
OWN_STATE_KEYS = ("properties", "heard")


def stage_key(stage: Stage) -> str:
    return slugify(stage.name)[:50] or f"stage-{stage.pk}"


def journey_definition(journey: Journey) -> dict[str, Any]:
    """The stages and steps ops edit, as the definition document the runner reads."""
    stages = list(journey.stages.order_by("order", "id"))
    steps = list(journey.steps.select_related("stage", "team").order_by("order", "id"))
    return {
        "name": journey.name,
        "stages": [
            {"key": stage_key(s), "id": s.pk, "name": s.name, "loop_stage": s.loop_stage}
            for s in stages
        ],
        "steps": [
            {
                "key": step.key,
                "stage": stage_key(step.stage),
                "kind": step.kind,
                "mode": step.mode,
                "team": step.team.slug if step.team else None,
                "config": step.config,
            }
            for step in steps
        ],
    }


@transaction.atomic
def journey_publish(*, journey: Journey, user: Any = None) -> tuple[JourneyVersion, bool]:
    """Validate the journey as it stands and make it the version new enrollments run; returns the
    live version and whether it is new (an unchanged journey keeps its version). A journey that
    cannot run is refused with every reason, each saying where."""
    definition = journey_definition(journey)
    teams = set(Team.objects.values_list("slug", flat=True))
    errors = design.definition_errors(definition, teams=teams)
    if errors:
        raise InvalidInput(f"{journey.name} cannot run yet", {"definition": errors})
    Journey.objects.select_for_update().filter(pk=journey.pk).first()  # one publisher at a time
    live = journey.versions.order_by("-number").first()
    if live is not None and live.definition == definition:
        return live, False
    version = JourneyVersion.objects.create(
        journey=journey,
        number=(live.number if live else 0) + 1,
        definition=definition,
        published_by=user,
    )
    return version, True


def latest_versions(
    journeys: list[Journey], *, definitions: bool = True
) -> dict[int, JourneyVersion]:
    """Each journey's live (latest) version; without their definitions for a caller that only
    links to them (ingest enrolling contacts)."""
    versions = JourneyVersion.objects.filter(journey__in=journeys).order_by("number")
    if not definitions:
        versions = versions.only("id", "journey_id", "number")
    return {version.journey_id: version for version in versions}


def enrollments_begin(*, enrollments: list[Enrollment]) -> None:
    """Run new enrollments up to their first waiting step, in the caller's transaction."""
    for enrollment in enrollments:
        enrollment_advance(enrollment_id=enrollment.pk, event={"kind": "start"})


def enrollments_begin_after_commit(*, enrollments: list[Enrollment]) -> None:
    """Run new enrollments' first steps in a worker once the caller commits: one task for the
    lot, off the path that acknowledges signals. They are stored due now, so should the task be
    lost (broker down, worker killed) the enrollment sweep starts them instead; the row lock and
    the first-step mark make the first step run once either way."""
    ids = [e.pk for e in enrollments if e.version_id is not None]
    if ids:
        from journeys.tasks import enrollments_start  # the tasks import this module

        transaction.on_commit(lambda: enrollments_start.delay(ids), robust=True)


@transaction.atomic
def enrollment_advance(*, enrollment_id: int, event: dict[str, Any]) -> Enrollment | None:
    """Move one enrollment on by one event. The row lock makes concurrent callers (two sweepers,
    a reply racing the due time) take turns, and each re-checks the event still applies."""
    enrollment = (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("version", "contact__account", "journey")
        .filter(pk=enrollment_id)
        .first()
    )
    if enrollment is None or enrollment.version is None:
        return None
    if enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED_FOR_HUMAN):
        return enrollment
    now = timezone.now()
    if event["kind"] == "due" and (enrollment.due_at is None or enrollment.due_at > now):
        return enrollment  # another sweeper already acted on this due time
    if event["kind"] == "reply" and event.get("message_id", 0) <= enrollment.state.get("heard", 0):
        return enrollment  # this reply was already heard
    first = enrollment.waiting_for == WAITING_FIRST_STEP
    if event["kind"] == "start" and not first:
        return enrollment  # the task and the sweep both came: the first step already ran
    # A person took the contact over between enrolling and the first step: the step runs as it
    # would have at enrolment (its messages are held back at send time) and the journey stays
    # with the person.
    paused_first = first and enrollment.status == EnrollmentStatus.PAUSED_FOR_HUMAN
    previous = None if first else enrollment.state
    outcome = runner.advance(
        enrollment.version.definition, previous, event, now, _context(enrollment)
    )
    handed_over = _apply(enrollment, outcome, now)
    own = {key: enrollment.state[key] for key in OWN_STATE_KEYS if key in enrollment.state}
    if event["kind"] == "reply":
        own["heard"] = event.get("message_id", 0)
    enrollment.state = {**outcome.state, **own}
    enrollment.status = outcome.status
    if (handed_over or paused_first) and outcome.status == EnrollmentStatus.ACTIVE:
        # A handoff raised while applying (the fail-safe, a held message) paused the contact's
        # journeys; this one stays paused too, and carries on from its state when resumed.
        enrollment.status = EnrollmentStatus.PAUSED_FOR_HUMAN
    enrollment.due_at = outcome.due_at
    enrollment.waiting_for = outcome.waiting_for or ""
    enrollment.step = str(outcome.state.get("step") or "")[:50]
    if enrollment.status != EnrollmentStatus.PAUSED_FOR_HUMAN:
        enrollment.paused_at = None
    elif enrollment.paused_at is None:
        enrollment.paused_at = now
    if outcome.status in (EnrollmentStatus.COMPLETED, EnrollmentStatus.DROPPED):
        stage_visit_close(enrollment=enrollment, outcome=outcome.status, at=now)
        enrollment_events_record(f"enrollment.{outcome.status}", [enrollment])
    enrollment.save(
        update_fields=[
            "state",
            "status",
            "due_at",
            "waiting_for",
            "step",
            "paused_at",
            "stage",
            "stage_entered_at",
            "updated_at",
        ]
    )
    return enrollment


def _context(enrollment: Enrollment) -> dict[str, Any]:
    contact = enrollment.contact
    account = contact.account
    return {
        "contact": {
            "external_id": contact.external_id,
            "name": contact.name,
            "first_name": (contact.name.split() or [""])[0],
            "email": contact.email,
            "phone": contact.phone,
            "timezone": contact.timezone,
        },
        "account": {"external_id": account.external_id, "name": account.name} if account else {},
        "properties": enrollment.state.get("properties", {}),
        "journey": {"name": enrollment.journey.name},
    }


# Runner log kinds the timeline does not need: entering a step shows as what the step did, and a
# person's resume is already audited by the service that resumed it.
UNLOGGED = frozenset({"entered", "resumed"})


def _apply(enrollment: Enrollment, outcome: runner.Outcome, now: Any) -> bool:
    """Carry out the runner's actions in order. Entering a step moves the enrollment into that
    step's stage; every touch, wait, branch and answer is written to the timeline. Returns
    whether a person took the contact over on the way (a fail-safe or a held message)."""
    handed_over = False
    sent: list[Message] = []
    stages = _stages_by_key(enrollment)
    stage_of_step = {
        step.get("key"): step.get("stage")
        for step in enrollment.version.definition.get("steps", [])
        if isinstance(step, dict)
    }
    for action in outcome.actions:
        data = action.data
        step = str(data.get("step") or "")[:50]
        if action.kind == "send":
            result = _send(enrollment, data)
            if result is None:
                return True  # the fail-safe handoff took over
            handed_over = handed_over or result.handed_over
            if result.message is not None:  # None: governance suppressed or held it
                sent.append(result.message)
        elif action.kind == "raise_handoff":
            handoff = _raise(enrollment, data)
            # What automation sent as it handed over is part of the handover, not to be held
            # back by the send-time check (handoffs/outbox.py).
            Message.objects.filter(pk__in=[m.pk for m in sent]).update(handoff=handoff)
        elif action.kind == "set_fields":
            _set_fields(enrollment.contact, data)
            _event(enrollment, "fields", step, "Updated " + ", ".join(sorted(data)))
        elif action.kind == "set_stage":
            if stage := stages.get(data.get("stage")):
                enrollment_stage_enter(enrollment=enrollment, stage=stage, at=now)
        elif data.get("kind") == "entered":
            enrollment.step = step
            if stage := stages.get(stage_of_step.get(data.get("step"))):
                enrollment_stage_enter(enrollment=enrollment, stage=stage, at=now)
        elif data.get("kind") not in UNLOGGED:
            _event(enrollment, str(data.get("kind") or "step"), step, str(data.get("summary", "")))
    return handed_over


def _event(enrollment: Enrollment, kind: str, step: str, detail: str) -> None:
    EnrollmentEvent.objects.create(
        enrollment=enrollment, kind=kind[:30], step=step, detail=detail[:300]
    )


def _stages_by_key(enrollment: Enrollment) -> dict[Any, Stage]:
    """The version's stage keys mapped to today's stages: by id where the definition has one (a
    renamed stage is still itself), else by key."""
    current = {s.pk: s for s in enrollment.journey.stages.all()}
    by_key = {stage_key(s): s for s in current.values()}
    stages: dict[Any, Stage] = {}
    for entry in enrollment.version.definition.get("stages", []):
        if not isinstance(entry, dict):
            continue
        stage = current.get(entry.get("id")) or by_key.get(entry.get("key"))
        if stage is not None:
            stages[entry.get("key")] = stage
    return stages


def _send(enrollment: Enrollment, data: dict[str, Any]) -> SendResult | None:
    """Route and send through governance (docs/governance.md): caps and quiet hours may defer
    or suppress it, tone rules add the disclosure, block it (a person takes over) or hold it for
    a person's approval. None: the fail-safe handed the contact to a person."""
    contact = Contact.objects.get(pk=enrollment.contact_id)
    try:
        channel, address = _route(contact, data.get("channel", "auto"))
    except DomainError as exc:
        _fail_safe(enrollment, f"could not send step {data.get('step')}: {exc.detail}")
        return None
    touch = AutomatedTouch(
        enrollment=enrollment,
        contact=contact,
        channel=channel,
        address=address,
        step=str(data.get("step") or "")[:50],
        subject=str(data.get("subject") or "")[:200],
        body=data["body"],
    )
    result = automated_send(touch=touch)
    if result.blocked:
        _fail_safe(enrollment, result.blocked)
        return None
    return result


def _route(contact: Contact, channel: str) -> tuple[str, str]:
    if channel == "auto":
        return reply_route(contact)
    address = (
        contact.email
        if channel == "email"
        else (contact.external_id if channel == "chat" else contact.phone)
    )
    if not address or channel in (contact.opted_out_channels or []):
        raise InvalidInput(f"{contact.display_name} cannot be reached by {channel}")
    return channel, address


def _raise(enrollment: Enrollment, data: dict[str, Any]) -> Any:
    team = Team.objects.filter(slug=data.get("team") or "").first()
    if team is None:  # only the fail-safe of a step with no team: someone must still see it
        team = Team.objects.order_by("id").first()
    handoff, _ = handoff_raise(
        request=RaiseRequest(
            contact=enrollment.contact,
            team=team,
            trigger=data.get("trigger") or "stage",
            priority=data.get("priority") or "normal",
            reason=str(data.get("reason") or "A journey asks for a person"),
            evidence={
                "type": "journey",
                "journey": enrollment.journey.name,
                "step": data.get("step"),
                "answers": enrollment.state.get("answers", {}),
                "detail": f"{enrollment.journey.name}, step {data.get('step')}",
            },
            offered_to_role=data.get("role") or "",
            first_response_minutes=data.get("sla_minutes"),
        )
    )
    return handoff


def _fail_safe(enrollment: Enrollment, why: str) -> None:
    """A bot step that cannot do its job hands the contact to a person, never to silence."""
    log.warning("enrollment %s: %s", enrollment.pk, why)
    _raise(
        enrollment,
        {
            "trigger": "manual",
            "priority": "high",
            "reason": f"Automation stopped: {why}",
            "step": enrollment.state.get("step"),
        },
    )


def _set_fields(contact: Contact, data: dict[str, Any]) -> None:
    contact_fields = {k.split(".", 1)[1]: v for k, v in data.items() if k.startswith("contact.")}
    if contact_fields:
        Contact.objects.filter(pk=contact.pk).update(**contact_fields)
    account_name = data.get("account.name")
    if account_name and contact.account_id:
        Account.objects.filter(pk=contact.account_id).update(name=account_name)


def enrollments_waiting(rows: list[tuple[int, str, int | None]], what: set[str]) -> dict[int, str]:
    """What each enrollment (id, waiting_for, version id) waits for now. One still waiting for
    its first step runs that step here, so an event that arrives before the worker does is not
    missed — but only if some step of its journey waits for one of `what` (signal types, or
    "reply"); otherwise it is left to the worker and out of the answer."""
    pending = {version for _, waiting_for, version in rows if waiting_for == WAITING_FIRST_STEP}
    versions = JourneyVersion.objects.filter(pk__in=pending)  # none pending: no query
    hearing = {
        pk
        for pk, definition in versions.values_list("pk", "definition")
        if runner.waits_heard(definition) & what
    }
    now_waiting: dict[int, str] = {}
    for enrollment_id, waiting_for, version_id in rows:
        if waiting_for == WAITING_FIRST_STEP:
            if version_id not in hearing:
                continue
            started = enrollment_advance(enrollment_id=enrollment_id, event={"kind": "start"})
            if started is None or started.status != EnrollmentStatus.ACTIVE:
                continue
            waiting_for = started.waiting_for
        now_waiting[enrollment_id] = waiting_for
    return now_waiting


def enrollments_due_sweep(*, limit: int = 500) -> int:
    """Act on due enrollments one at a time, each in its own transaction. skip_locked lets two
    sweepers share the work; the due-time re-check under the lock makes each due time fire once."""
    done = 0
    while done < limit:
        with transaction.atomic():
            due = (
                Enrollment.objects.select_for_update(skip_locked=True)
                .filter(status=EnrollmentStatus.ACTIVE, due_at__lte=timezone.now())
                .order_by("due_at")
                .values_list("id", flat=True)
                .first()
            )
            if due is None:
                return done
            enrollment_advance(enrollment_id=due, event={"kind": "due"})
        done += 1
    return done
