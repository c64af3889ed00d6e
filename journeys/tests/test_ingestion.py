"""What an accepted signal does: rules raise or feed handoffs, journeys enroll and pause."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from conftest import key_client, run_concurrently, signal_body
from handoffs.models import Handoff, HandoffEvent
from handoffs.services import handoff_resolve
from journeys.models import Enrollment, EnrollmentEvent, Signal

SIGNALS = "/api/v1/signals/"


def enrollment() -> Enrollment:
    return Enrollment.objects.select_related("journey", "stage").get(contact__external_id="c-1001")


def test_a_50000_budget_raises_one_urgent_high_value_handoff_for_the_director(org, send_signal):
    response = send_signal(budget=50000, key="form-1")
    signal = Signal.objects.get()
    handoff = Handoff.objects.select_related("team").get()
    assert response.json() == {"id": str(signal.pk), "duplicate": False}
    assert (handoff.team.slug, handoff.trigger, handoff.priority, handoff.status) == (
        "sales",
        "high_value",
        "urgent",
        "open",
    )
    assert (handoff.offered_to_role, handoff.rule, handoff.signal, handoff.assignee) == (
        "director",
        org.rule,
        signal,
        None,
    )
    assert handoff.reason == "Budget 50,000 GBP ≥ 50,000 (rule: High value v1)"
    assert handoff.evidence == [
        {
            "signal_id": signal.pk,
            "type": "form_submitted",
            "at": "2026-11-21T10:00:00Z",
            "detail": "properties.budget = 50,000 ≥ 50,000",
            "rule": "High value v1",
        }
    ]
    assert handoff.first_response_due_at == handoff.created_at + timedelta(minutes=15)
    assert list(HandoffEvent.objects.values_list("kind", flat=True)) == ["created"]


@pytest.mark.parametrize(
    ("budget", "raised"),
    [
        (50000, 1),
        (49999, 0),
        (500, 0),
        ("75,000", 1),
        (" 50000.00 ", 1),
        ("£60k", 0),
        (None, 0),
    ],
)
def test_only_a_budget_of_at_least_50000_raises_a_handoff(org, send_signal, budget, raised):
    assert send_signal(budget=budget).status_code == 202
    assert Handoff.objects.count() == raised


def test_a_text_budget_is_quoted_as_sent_in_the_reason(org, send_signal):
    send_signal(budget="75,000")
    assert Handoff.objects.get().reason == "Budget 75,000 GBP ≥ 50,000 (rule: High value v1)"


def test_a_second_matching_signal_attaches_as_evidence_to_the_open_handoff(org, send_signal):
    send_signal(budget=50000, key="form-1")
    send_signal(budget=80000, key="form-2")
    first, second = Signal.objects.order_by("id")
    handoff = Handoff.objects.get()
    assert [item["signal_id"] for item in handoff.evidence] == [first.pk, second.pk]
    assert handoff.evidence[1]["detail"] == "properties.budget = 80,000 ≥ 50,000"
    assert list(handoff.events.values_list("kind", flat=True)) == ["created", "evidence_added"]


def test_a_signal_after_the_handoff_is_resolved_raises_a_new_one(org, send_signal):
    send_signal(key="form-1")
    first = Handoff.objects.get()
    handoff_resolve(
        handoff_id=first.pk, user=org.users["sam"], resolution="Called", resume_automation=True
    )
    send_signal(key="form-2")
    second = Handoff.objects.exclude(pk=first.pk).get()
    assert (second.status, len(second.evidence)) == ("open", 1)
    assert Handoff.objects.get(pk=first.pk).status == "resolved"


def test_a_disabled_rule_raises_nothing(org, send_signal):
    org.rule.enabled = False
    org.rule.save()
    assert send_signal(budget=90000).status_code == 202
    assert not Handoff.objects.exists()


def test_a_rule_for_another_signal_type_raises_nothing(org, send_signal):
    assert send_signal(type="trial_started").status_code == 202
    assert not Handoff.objects.exists()


def test_a_form_submission_enrolls_the_contact_in_the_lead_nurture(org, send_signal):
    send_signal(budget=500)
    enrolled = enrollment()
    assert (enrolled.journey, enrolled.stage.name, enrolled.status) == (
        org.journey,
        "Nurture",
        "active",
    )
    assert list(enrolled.events.values_list("kind", flat=True)) == ["enrolled"]


def test_a_second_form_submission_does_not_enroll_again(org, send_signal):
    send_signal(budget=500, key="form-1")
    send_signal(budget=600, key="form-2")
    assert Enrollment.objects.count() == 1
    assert EnrollmentEvent.objects.count() == 1


def test_a_high_value_handoff_pauses_the_nurture_for_a_human(org, send_signal):
    send_signal(budget=50000)
    enrolled = enrollment()
    assert enrolled.status == "paused_for_human"
    assert enrolled.paused_at is not None
    assert list(enrolled.events.values_list("kind", flat=True)) == ["enrolled", "paused"]


def test_every_accepted_signal_is_marked_evaluated(org, integration):
    integration.post(SIGNALS, signal_body(key="one"), format="json")
    batch = [signal_body(external_id=f"c-{i}", key=f"b-{i}") for i in range(3)]
    integration.post(f"{SIGNALS}batch/", {"signals": batch}, format="json")
    assert Signal.objects.count() == 4
    assert not Signal.objects.filter(evaluated_at=None).exists()
    assert Handoff.objects.count() == 4


def test_a_duplicate_delivery_is_not_evaluated_again(org, send_signal):
    send_signal(key="form-1")
    evaluated_at = Signal.objects.get().evaluated_at
    send_signal(key="form-1")
    assert Signal.objects.get().evaluated_at == evaluated_at
    assert len(Handoff.objects.get().evidence) == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_signal_delivered_concurrently_is_stored_and_raised_once(org, api_key):
    def deliver() -> tuple[int, dict[str, Any]]:
        response = key_client(api_key).post(SIGNALS, signal_body(key="race-1"), format="json")
        return response.status_code, response.json()

    answers = run_concurrently([deliver] * 8)
    signal = Signal.objects.get()
    assert [status for status, _ in answers] == [202] * 8
    assert sorted(body["duplicate"] for _, body in answers) == [False] + [True] * 7
    assert {body["id"] for _, body in answers} == {str(signal.pk)}
    assert Handoff.objects.count() == 1
    assert Handoff.objects.get().evidence[0]["signal_id"] == signal.pk
    assert Enrollment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_different_signals_for_one_contact_arriving_together_share_one_handoff(org, api_key):
    def deliver(key: str) -> Callable[[], int]:
        def send() -> int:
            body = signal_body(key=key)
            return key_client(api_key).post(SIGNALS, body, format="json").status_code

        return send

    statuses = run_concurrently([deliver(f"race-{i}") for i in range(6)])
    assert statuses == [202] * 6
    handoff = Handoff.objects.get()
    assert sorted(item["signal_id"] for item in handoff.evidence) == sorted(
        Signal.objects.values_list("id", flat=True)
    )
    assert len(handoff.evidence) == 6
    assert Enrollment.objects.count() == 1
