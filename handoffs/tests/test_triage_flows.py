"""Inbound messages through the API, triaged in the same transaction: sentiment handoffs for the
owning team's lead, opt-outs, FAQ answers and holding replies with complexity handoffs, the
fail-safe, duplicates and conversations a person already has."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from handoffs.models import FaqEntry, Handoff, Message, OutboxEntry, TriageSettings
from handoffs.services import handoff_resolve
from handoffs.triage import defaults
from journeys.models import Contact, Enrollment, Step
from portal.models import Team

URL = "/api/v1/messages/inbound/"
SIGNATURE = defaults.ASSISTANT_SIGNATURE


def inbound(text: str, *, n: int = 1, channel: str = "sms", who: str = "c-1001") -> dict[str, Any]:
    return {
        "contact": {
            "external_id": who,
            "name": "Ada Lovelace",
            "phone": "+447700900123",
            "email": f"{who}@example.com",
        },
        "channel": channel,
        "body": text,
        "external_id": f"{who}-{n}",
    }


@pytest.fixture
def post(integration: Any) -> Any:
    def send(text: str, **kwargs: Any) -> Message:
        response = integration.post(URL, inbound(text, **kwargs), format="json")
        assert response.status_code == 202, response.content
        return Message.objects.get(pk=response.json()["id"])

    return send


@pytest.fixture
def faq(org: Any) -> list[FaqEntry]:
    return [
        FaqEntry.objects.create(question=q, answer=a, keywords=k, status="approved")
        for q, a, k in defaults.STARTER_FAQ
    ]


def outbound(who: str = "c-1001") -> list[Message]:
    return list(
        Message.objects.filter(conversation__contact__external_id=who, direction="out").order_by(
            "id"
        )
    )


def live_enrollment(org: Any, contact: Contact, team: Team | None = None) -> Enrollment:
    journey = org.journey
    Step.objects.create(
        journey=journey,
        stage=journey.stages.get(),
        key="call",
        kind="handoff",
        config={},
        team=team,
    )
    return Enrollment.objects.create(
        contact=contact, journey=journey, stage_entered_at=timezone.now()
    )


# ---- sentiment ---------------------------------------------------------------------------


def test_an_angry_reply_raises_a_high_priority_sentiment_handoff_for_the_lead_at_once(org, post):
    message = post("This is the third time I'm asking. Ridiculous.")

    handoff = Handoff.objects.get()
    assert (handoff.trigger, handoff.priority, handoff.team.slug) == ("sentiment", "high", "sales")
    assert handoff.offered_to_role == "director"  # Sales has no lead: its director leads it
    assert handoff.reason.startswith("Angry reply (VADER −0.")
    assert "matched 'third time'" in handoff.reason  # the contact's words that decided
    evidence = handoff.evidence[0]
    assert evidence["message_id"] == message.pk
    assert "“This is the third time I'm asking. Ridiculous.”" in evidence["detail"]
    # the phrase as ops wrote it, to find in admin
    phrase = "second|third|fourth|fifth|sixth|2nd|3rd|4th|5th|6th|nth|umpteenth|hundredth time"
    assert (evidence["phrase"], evidence["matched"]) == (phrase, "third time")
    message.refresh_from_db()
    assert (message.triage, message.triage_phrase, message.handoff) == ("angry", phrase, handoff)
    assert message.sentiment is not None and message.sentiment < 0
    assert outbound() == []  # a person answers, not the bot


def test_an_angry_reply_stops_the_contacts_journeys(org, post):
    post("hello", n=0)
    contact = Contact.objects.get()
    enrollment = live_enrollment(org, contact, org.teams["success"])

    post("This is ridiculous", n=1)

    enrollment.refresh_from_db()
    assert enrollment.status == "paused_for_human"
    assert Handoff.objects.get().team.slug == "success"
    assert Handoff.objects.get().offered_to_role == "lead"


def test_a_confused_reply_raises_a_normal_sentiment_handoff(org, post):
    post("Sorry, I don't understand — what does this mean?")

    handoff = Handoff.objects.get()
    assert (handoff.trigger, handoff.priority) == ("sentiment", "normal")
    assert handoff.reason.startswith("Confused reply (VADER")


@pytest.mark.parametrize("text", ["STOP", "Stop texting me", "unsubscribe please"])
def test_an_opt_out_marks_the_channel_and_still_tells_a_person(org, post, text):
    post(text)

    contact = Contact.objects.get()
    assert contact.opted_out_channels == ["sms"]
    handoff = Handoff.objects.get()
    assert handoff.trigger == "sentiment"
    assert handoff.reason.startswith("Opted out of SMS (VADER")
    assert outbound() == []


def test_positive_intent_is_recorded_and_needs_no_person(org, post):
    message = post("Yes, I'm interested — sounds good, call me")

    message.refresh_from_db()
    assert (message.triage, message.triage_phrase) == ("positive", "yes i'm interested")
    assert not Handoff.objects.exists()


def test_a_routine_reply_changes_nothing_but_its_label(org, post):
    message = post("Tuesday at 3", n=1)

    message.refresh_from_db()
    assert message.triage == "routine"
    assert not Handoff.objects.exists()
    assert outbound() == []


# ---- questions and the FAQ ---------------------------------------------------------------


def test_a_question_the_faq_answers_gets_the_answer_from_the_bot(org, post, faq):
    message = post("What are your opening hours?")

    reply = outbound()
    assert len(reply) == 1
    assert reply[0].automated and reply[0].handoff is None
    assert reply[0].body.startswith("Our team is available Monday to Friday")
    assert reply[0].body.endswith(SIGNATURE)
    assert OutboxEntry.objects.get(message=reply[0]).to_address == "+447700900123"
    message.refresh_from_db()
    assert message.triage == "faq"
    assert message.triage_phrase.startswith(f"FAQ #{faq[0].pk}: What are your opening hours?")
    assert not Handoff.objects.exists()


def test_a_question_the_faq_cannot_answer_gets_the_holding_reply_and_a_specialist(org, post, faq):
    message = post(
        "Can we run two workspaces on one invoice for our Dublin office?", channel="email"
    )

    handoff = Handoff.objects.get()
    assert (handoff.trigger, handoff.priority) == ("complexity", "normal")
    assert handoff.reason == (
        "Question the FAQ cannot answer: “Can we run two workspaces on one invoice for our "
        "Dublin office?”"
    )
    evidence = handoff.evidence[0]
    assert evidence["type"] == "question"
    assert evidence["candidates"] and all(c["score"] < 0.45 for c in evidence["candidates"])
    assert evidence["detail"].startswith("Best FAQ matches: “")
    holding = outbound()
    assert len(holding) == 1
    assert holding[0].body == f"{defaults.HOLDING_REPLY}\n\n{SIGNATURE}"
    assert (holding[0].channel, holding[0].handoff, holding[0].automated) == (
        "email",
        handoff,
        True,
    )
    message.refresh_from_db()
    assert (message.triage, message.handoff) == ("question", handoff)


def test_after_hours_the_after_hours_reply_stands_in_for_the_holding_reply(org, post, faq):
    from handoffs.tests.test_sla_services import hours_from_now

    for team in org.teams:  # every team opens in two hours: it is after hours now
        hours_from_now(org, team, opens_in=timedelta(hours=2), length=timedelta(hours=1))

    post("Can we run two workspaces on one invoice for our Dublin office?", channel="email")

    handoff = Handoff.objects.get()
    assert handoff.after_hours_replied_at is not None
    [reply] = outbound()
    assert reply.body.startswith("I've logged this") and reply.handoff == handoff


def test_with_no_faq_at_all_every_question_goes_to_a_specialist(org, post):
    post("What are your opening hours?")

    assert Handoff.objects.get().trigger == "complexity"


def test_ops_wording_and_threshold_are_used(org, post, faq):
    TriageSettings.objects.update_or_create(
        pk=1,
        defaults={
            "faq_match_at_least": 0.99,
            "holding_reply": "Let me ask a colleague.",
            "assistant_signature": "— the bot",
        },
    )

    post("When are you open?")

    assert Handoff.objects.get().trigger == "complexity"
    assert outbound()[0].body == "Let me ask a colleague.\n\n— the bot"


def test_phrases_ops_switch_off_no_longer_count(org, post):
    from handoffs.models import TriagePhrase

    TriagePhrase.objects.update_or_create(
        kind="angry", phrase="ridiculous", whole_message=False, defaults={"enabled": False}
    )
    TriagePhrase.objects.create(kind="positive", phrase="lovely")

    message = post("Lovely, that is ridiculous")

    message.refresh_from_db()
    assert message.triage == "positive"


# ---- who owns the contact ------------------------------------------------------------------


def test_the_team_of_the_contacts_latest_handoff_takes_it(org, post, send_signal):
    assert send_signal(budget=60000, key="f-1").status_code == 202
    earlier = Handoff.objects.get()
    handoff_resolve(
        handoff_id=earlier.pk, user=org.users["sam"], resolution="done", resume_automation=False
    )
    Handoff.objects.filter(pk=earlier.pk).update(resolved_at=timezone.now() - timedelta(days=30))
    Handoff.objects.filter(pk=earlier.pk).update(team=org.teams["support"])

    post("this is ridiculous")

    assert Handoff.objects.exclude(pk=earlier.pk).get().team.slug == "support"


def test_else_the_team_owning_a_step_of_its_live_journey(org, post):
    post("hi", n=0)
    live_enrollment(org, Contact.objects.get(), org.teams["marketing"])

    post("this is ridiculous")

    assert Handoff.objects.get().team.slug == "marketing"


def test_else_the_default_team_in_the_settings(org, post):
    TriageSettings.objects.update_or_create(pk=1, defaults={"default_team": org.teams["success"]})

    post("this is ridiculous")

    assert Handoff.objects.get().team.slug == "success"


def test_else_the_first_team(org, post):
    TriageSettings.objects.update_or_create(pk=1, defaults={"default_team": None})

    post("this is ridiculous")

    assert Handoff.objects.get().team == Team.objects.order_by("id").first()


# ---- fail-safe ----------------------------------------------------------------------------


def _raise(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("lexicon missing")


def test_a_classifier_that_raises_hands_the_contact_to_a_person(org, post, monkeypatch):
    monkeypatch.setattr("handoffs.triage.config.triage_decide", _raise)

    message = post("This is ridiculous")  # still a 202

    handoff = Handoff.objects.get()
    assert (handoff.trigger, handoff.priority) == ("manual", "high")
    assert "RuntimeError: lexicon missing" in handoff.reason
    message.refresh_from_db()
    assert (message.body, message.triage, message.handoff) == (
        "This is ridiculous",
        "error",
        handoff,
    )


def test_a_ranker_that_raises_hands_the_question_to_a_person(org, post, faq, monkeypatch):
    monkeypatch.setattr("handoffs.triage.faq.FaqIndex.rank", _raise)

    post("What are your opening hours?")

    handoff = Handoff.objects.get()
    assert handoff.trigger == "manual"
    assert "lexicon missing" in handoff.reason
    assert outbound() == []


def test_a_send_that_cannot_be_queued_hands_the_contact_to_a_person(org, post, monkeypatch):
    monkeypatch.setattr("handoffs.services.replies.outbox_enqueue", _raise)

    message = post("Do you support our in-house ERP from 2009?")

    handoff = Handoff.objects.get()  # the complexity handoff rolled back with the failed send
    assert (handoff.trigger, handoff.priority) == ("manual", "high")
    assert handoff.reason.startswith("Automation stopped: question reply not handled")
    message.refresh_from_db()
    assert message.triage == "question"
    assert outbound() == []


# ---- duplicates and conversations a person already has ---------------------------------------


def test_a_duplicate_delivery_is_not_triaged_again(org, integration):
    body = inbound("Do you support our in-house ERP from 2009?")
    first = integration.post(URL, body, format="json")
    again = integration.post(URL, body, format="json")

    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    assert Handoff.objects.count() == 1
    assert len(outbound()) == 1


def test_a_message_on_an_active_handoff_wakes_it_and_raises_nothing_new(org, post, send_signal):
    assert send_signal(budget=60000, key="f-1").status_code == 202
    active = Handoff.objects.get()

    message = post("This is the third time I'm asking!")
    question = post("What are your opening hours?", n=2)

    assert list(Handoff.objects.all()) == [active]
    message.refresh_from_db()
    assert (message.triage, message.handoff) == ("angry", active)
    question.refresh_from_db()
    assert question.triage == "question"
    assert outbound() == []  # the person answers, not the bot


def test_an_opt_out_on_an_active_handoff_is_still_honoured(org, post, send_signal):
    assert send_signal(budget=60000, key="f-1").status_code == 202

    post("STOP")

    assert Handoff.objects.count() == 1
    assert Contact.objects.get().opted_out_channels == ["sms"]


@pytest.mark.django_db(transaction=True)
def test_journeys_still_hear_a_reply_after_triage_commits(org, post, monkeypatch):
    heard: list[int] = []
    monkeypatch.setattr(
        "journeys.tasks.enrollments_hear_reply.delay", lambda message_id: heard.append(message_id)
    )

    message = post("sounds good, call me")

    assert heard == [message.pk]
    assert Message.objects.get(pk=message.pk).triage == "positive"
