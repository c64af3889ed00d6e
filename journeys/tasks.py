"""Celery tasks for journeys: ids in, the engine does the work, after the caller's commit."""

from __future__ import annotations

from celery import shared_task

from handoffs.models import Message
from journeys.choices import WAITING_FIRST_STEP, EnrollmentStatus
from journeys.engine import (
    enrollment_advance,
    enrollments_due_sweep,
    enrollments_waiting,
)
from journeys.models import Enrollment


@shared_task(name="journeys.tasks.enrollments_sweep", ignore_result=True)
def enrollments_sweep() -> int:
    """Beat (and the embedded timer): act on every enrollment whose due time has passed."""
    return enrollments_due_sweep()


@shared_task(name="journeys.tasks.enrollments_start", ignore_result=True)
def enrollments_start(enrollment_ids: list[int]) -> None:
    """New enrollments' first steps, after the signals that enrolled them are committed."""
    for enrollment_id in enrollment_ids:
        enrollment_advance(enrollment_id=enrollment_id, event={"kind": "start"})


@shared_task(name="journeys.tasks.enrollments_hear_reply", ignore_result=True)
def enrollments_hear_reply(message_id: int) -> int:
    """A contact's reply reaches the journeys waiting on one (an answer, or "wait until reply")."""
    message = Message.objects.select_related("conversation").filter(pk=message_id).first()
    if message is None:
        return 0
    waiting = Enrollment.objects.filter(
        contact_id=message.conversation.contact_id,
        status=EnrollmentStatus.ACTIVE,
        waiting_for__in=("reply", WAITING_FIRST_STEP),
    ).values_list("id", "waiting_for", "version_id")
    event = {
        "kind": "reply",
        "text": message.body,
        "channel": message.channel,
        "message_id": message.pk,
    }
    heard = 0
    for enrollment_id, waiting_for in enrollments_waiting(list(waiting), {"reply"}).items():
        if waiting_for == "reply":
            enrollment_advance(enrollment_id=enrollment_id, event=event)
            heard += 1
    return heard


@shared_task(name="journeys.tasks.enrollments_resume", ignore_result=True)
def enrollments_resume(enrollment_ids: list[int]) -> None:
    """A person resolved the handoff with "resume automation": the journey carries on."""
    for enrollment_id in enrollment_ids:
        enrollment_advance(enrollment_id=enrollment_id, event={"kind": "resumed"})
