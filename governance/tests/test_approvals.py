"""Held messages decided in the portal: approve (sent as is), edit and send (the edited text,
marked approved by the person), reject (not sent; the journey carries on) — each exactly once,
only by people who may work the team's handoffs — and expiry applying the default once."""

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from conftest import run_concurrently
from governance.policies.approvals import approval_decide, approvals_expire_due
from governance.policies.models import Approval, TouchDecision
from governance.tests.test_policies_support import arrive, day_zone, night_zone, quiet, tone_rule
from handoffs.models import Handoff, Message
from handoffs.services import handoff_claim
from journeys.choices import LoopStage
from journeys.engine import enrollments_due_sweep, journey_publish
from journeys.models import Enrollment, EnrollmentEvent, Journey, Stage, Step
from portal.errors import Conflict

pytestmark = pytest.mark.django_db(transaction=True)

OFFER = "Hi Tess, upgrade this week and get 20% off your first year."


def offer_journey(org: Any) -> Journey:
    """Sales' expansion offer (a discount: held for approval), then a wait for interest and a
    follow-up if none comes."""
    journey = Journey.objects.create(
        name="Expansion", slug="expansion", enroll_on_signal_type="trial_started"
    )
    stage = Stage.objects.create(journey=journey, name="Expand", loop_stage=LoopStage.EXPAND)
    steps = [
        ("offer", "send_message", {"channel": "email", "template": OFFER}),
        (
            "wait_interest",
            "wait",
            {"until": "reply", "minutes": 7200, "on_event": "done", "on_timeout": "follow_up"},
        ),
        ("follow_up", "send_message", {"channel": "email", "template": "Any thoughts?"}),
        ("done", "end", {"outcome": "completed"}),
    ]
    for order, (key, kind, config) in enumerate(steps):
        Step.objects.create(
            journey=journey,
            stage=stage,
            key=key,
            order=order,
            kind=kind,
            config=config,
            team=org.teams["sales"] if key == "offer" else None,
        )
    journey_publish(journey=journey)
    return journey


@pytest.fixture
def held(org: Any, api_key: str) -> Approval:
    tone_rule(name="No promises", kind="promise")
    tone_rule(name="No pressure", kind="banned", phrases="act now")
    offer_journey(org)
    arrive(api_key, zone=day_zone())
    return Approval.objects.get()


def browser(org: Any, username: str) -> Client:
    client = Client()
    client.force_login(org.users[username])
    return client


def decide(org: Any, username: str, approval: Approval, action: str, text: str = "") -> Any:
    return browser(org, username).post(
        f"/governance/approvals/{approval.pk}/{action}/", {"text": text}, HTTP_HX_REQUEST="true"
    )


def sent_offers() -> list[Message]:
    return list(Message.objects.filter(step="offer").select_related("outbox"))


def test_a_held_offer_waits_with_the_journey_paused_and_nothing_sent(org, held):
    assert held.handoff.trigger == "approval" and held.handoff.team == org.teams["sales"]
    assert not sent_offers()
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.step) == ("paused_for_human", "wait_interest")


def test_approving_sends_the_held_text_once_marked_approved_and_the_journey_carries_on(org, held):
    response = decide(org, "riley", held, "approve")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Approved: sent as is" in page and "by you" in page
    (message,) = sent_offers()
    assert message.body == held.original_text
    assert (message.automated, message.author, message.handoff_id) == (
        True,
        org.users["riley"],
        held.handoff_id,
    )
    assert message.outbox.status == "sent"
    assert sum("20% off" in m.body for m in mail.outbox) == 1
    held.refresh_from_db()
    assert (held.decision, held.decided_by, held.message) == (
        "approved",
        org.users["riley"],
        message,
    )
    assert Handoff.objects.get().status == "resolved"
    assert Enrollment.objects.get().status == "active"  # carries on: waits for interest
    assert (
        "approved and sent (by Riley Reed)" in EnrollmentEvent.objects.get(kind="approval").detail
    )

    again = decide(org, "sam", held, "approve")
    assert "Already decided by Riley Reed" in again.content.decode()
    assert len(sent_offers()) == 1


def test_edit_and_send_sends_the_edited_text_with_the_disclosure(org, held):
    tone_rule(name="Disclosure", kind="disclosure", phrases="— Baton assistant (automated message)")

    decide(org, "sam", held, "edit", text="Hi Tess, Sam here: shall we talk about your plan?")

    (message,) = sent_offers()
    assert message.body == (
        "Hi Tess, Sam here: shall we talk about your plan?\n\n— Baton assistant (automated message)"
    )
    assert message.author == org.users["sam"] and message.automated
    held.refresh_from_db()
    assert (held.decision, held.edited_text) == ("edited", message.body)
    assert held.original_text.startswith(OFFER)  # what automation wrote is kept


def test_an_edit_with_a_banned_phrase_is_refused_and_nothing_changes(org, held):
    response = decide(org, "riley", held, "edit", text="Act now, Tess!")

    page = response.content.decode()
    assert "banned phrase" in page and "Act now, Tess!" in page  # the edit comes back
    held.refresh_from_db()
    assert held.decision == "pending"
    assert not sent_offers()
    assert Handoff.objects.get().status == "open"


def test_rejecting_sends_nothing_and_the_journey_carries_on(org, held):
    decide(org, "riley", held, "reject")

    assert not sent_offers()
    held.refresh_from_db()
    assert held.decision == "rejected"
    assert Handoff.objects.get().resolution == "Rejected: not sent"
    Enrollment.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    enrollments_due_sweep()
    assert list(Message.objects.values_list("step", flat=True)) == ["follow_up"]
    assert Enrollment.objects.get().status == "completed"


def test_two_people_deciding_at_once_decide_once(org, held):
    def by(username: str, decision: str) -> Any:
        def call() -> str:
            try:
                approval_decide(
                    approval_id=held.pk,
                    user=org.users[username],
                    decision=decision,
                    may_override=True,
                )
            except Conflict as refused:
                return refused.detail
            return "won"

        return call

    results = run_concurrently([by("riley", "approved"), by("sam", "rejected")])

    assert sorted(r == "won" for r in results) == [False, True]
    assert any(r.startswith("Already decided by") for r in results)
    held.refresh_from_db()
    assert len(sent_offers()) == (1 if held.decision == "approved" else 0)
    assert EnrollmentEvent.objects.filter(kind="approval").count() == 1


def test_a_leader_may_read_but_not_decide_and_another_team_gets_404(org, held):
    page = browser(org, "lee").get(f"/handoffs/{held.handoff_id}/").content.decode()
    assert "Held for approval" in page and "data-approve" not in page

    refused = decide(org, "lee", held, "approve")
    assert "cannot decide" in refused.content.decode()
    assert decide(org, "casey", held, "approve").status_code == 404
    assert browser(org, "casey").get(f"/handoffs/{held.handoff_id}/").status_code == 404
    held.refresh_from_db()
    assert held.decision == "pending" and not sent_offers()


def test_a_claimed_approval_is_its_owners_to_decide_or_their_leads(org, held):
    handoff_claim(handoff_id=held.handoff_id, user=org.users["riley"])

    refused = decide(org, "rob", held, "approve")
    assert "Already claimed by Riley Reed" in refused.content.decode()
    assert not sent_offers()

    decide(org, "sam", held, "approve")  # the Sales Director may override
    held.refresh_from_db()
    assert (held.decision, held.decided_by) == ("approved", org.users["sam"])


def test_a_plain_form_post_without_htmx_decides_and_redirects_to_the_handoff(org, held):
    response = browser(org, "riley").post(f"/governance/approvals/{held.pk}/reject/")

    assert response.status_code == 302 and response.url == f"/handoffs/{held.handoff_id}/"
    held.refresh_from_db()
    assert held.decision == "rejected"


def test_an_approval_at_night_goes_out_in_the_contacts_morning(org, api_key):
    tone_rule(name="No promises", kind="promise")
    offer_journey(org)
    zone, morning = night_zone()
    quiet()  # (the held offer is not deferred yet: it is not queued)
    arrive(api_key, zone=zone)
    held = Approval.objects.get()

    page = decide(org, "riley", held, "approve").content.decode()

    (message,) = sent_offers()
    assert message.outbox.status == "queued"
    assert message.outbox.next_attempt_at == morning
    assert "it goes out" in page
    assert TouchDecision.objects.filter(action="deferred", message=message).exists()


@pytest.mark.parametrize(("default", "sends"), [("send", 1), ("reject", 0)])
def test_expiry_applies_the_default_once_under_two_racing_sweeps(org, held, default, sends):
    Approval.objects.filter(pk=held.pk).update(
        expiry_action=default, expires_at=timezone.now() - timedelta(seconds=1)
    )

    results = run_concurrently([approvals_expire_due, approvals_expire_due])

    assert sorted(results) == [0, 1]
    held.refresh_from_db()
    assert held.expired and held.decided_by is None
    assert held.decision == ("approved" if sends else "rejected")
    assert len(sent_offers()) == sends
    assert EnrollmentEvent.objects.filter(kind="approval").count() == 1
    handoff = Handoff.objects.get()
    assert handoff.status == "resolved" and handoff.resolution.startswith("Approval expired")
    assert Enrollment.objects.get().status == "active"  # the journey carries on
    assert approvals_expire_due() == 0


def test_expiry_leaves_approvals_not_yet_due_alone(org, held):
    assert approvals_expire_due() == 0
    held.refresh_from_db()
    assert held.decision == "pending"


def test_the_handoff_page_marks_what_held_the_text_and_costs_the_same_with_more_held(
    org, held, django_assert_num_queries
):
    client = browser(org, "riley")
    page = client.get(f"/handoffs/{held.handoff_id}/").content.decode()
    assert (
        '<mark title="No promises: discount promise" data-finding="promise">20% off</mark>' in page
    )
    for action in ("approve", "reject", "edit"):
        assert f"/governance/approvals/{held.pk}/{action}/" in page

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/handoffs/{held.handoff_id}/").status_code == 200
        return len(queries)

    one = count()
    for _ in range(4):
        Approval.objects.create(
            **{
                f.attname: getattr(held, f.attname)
                for f in Approval._meta.concrete_fields
                if f.attname != "id"
            }
        )
    assert count() == one
