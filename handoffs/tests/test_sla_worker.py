"""The breach sweep through the real stack: a `celery worker` process on Redis runs
`handoffs.tasks.sla_sweep` against the PostgreSQL test database and queues the lead's alert to
itself (the worker fixture of test_worker_integration.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from handoffs.models import Handoff, HandoffEvent
from handoffs.services import RaiseRequest, handoff_raise
from handoffs.tasks import sla_sweep
from handoffs.tests.test_worker_integration import DELIVERY_SECONDS, Worker
from handoffs.tests.test_worker_integration import worker as worker  # the fixture, shared
from journeys.models import Contact

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_worker_flags_an_overdue_handoff_once_and_alerts_the_lead(worker: Worker, org: Any):
    start = worker.mark()
    who = Contact.objects.create(external_id="c-late", name="Late Larry", email="l@example.com")
    handoff, _ = handoff_raise(
        request=RaiseRequest(
            contact=who,
            team=org.teams["success"],
            trigger="complexity",
            priority="normal",
            reason="A question nobody answered",
            evidence={"type": "test"},
        )
    )
    past = timezone.now() - timedelta(minutes=1)
    Handoff.objects.filter(pk=handoff.pk).update(first_response_due_at=past, sla_due_at=past)

    sweeps = [sla_sweep.delay(), sla_sweep.delay()]
    results = [
        worker.wait_for(f"sweep {s.id}", lambda s=s: worker.finished(s.id), DELIVERY_SECONDS)
        for s in sweeps
    ]
    assert sorted(results) == ["0", "1"]  # one sweep flagged it; the other found nothing

    handoff.refresh_from_db()
    assert (handoff.breached, handoff.escalated) == (True, True)
    kinds = list(HandoffEvent.objects.filter(handoff=handoff).values_list("kind", flat=True))
    assert kinds.count("breached") == 1 and kinds.count("escalated") == 1
    # The alert task was queued after the sweep's commit and ran on the worker too (Morgan has
    # no email address in the fixtures, so it wrote to nobody).
    log = worker.wait_for(
        "the lead's alert",
        lambda: "sla_escalation_notify" in worker.log(since=start) and worker.log(since=start),
        DELIVERY_SECONDS,
    )
    assert "sla_escalation_notify" in log
