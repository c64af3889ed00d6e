"""The rep's playbook on the context view: next steps, content and reply drafts follow the
contact's timeline (a handoff raised, a question asked, a stage reached) and the rules ops keep
(an edit or a deactivation shows at once); they are scoped to teams; showing or using a draft
sends nothing; the page's query count does not grow with the timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import Org
from handoffs.models import FaqEntry, Handoff, Message, OutboxEntry
from handoffs.services import (
    InboundMessage,
    RaiseRequest,
    conversation_for,
    handoff_raise,
    handoff_resolve,
    message_receive,
)
from handoffs.triage.choices import FaqStatus
from handoffs.ui import handoff_page_context
from journeys.choices import LoopStage
from journeys.engine import journey_publish
from journeys.models import Contact, Journey, Stage, Step
from journeys.playbook.choices import persona_from
from journeys.playbook.demo import CONTENT, NEXT_STEPS, TEMPLATES, seed_playbook
from journeys.playbook.documents import body_errors
from journeys.playbook.models import ContentItem, NextStepRule, ReplyTemplate
from journeys.playbook.selectors import Playbook, playbook_for
from journeys.rules import condition_errors
from journeys.tests.test_views import add_history, times

pytestmark = pytest.mark.django_db

# Pinned: the contact page with a full playbook. The page's own 14 (journeys/tests/test_views.py;
# the playbook reuses its enrollments) plus the playbook's 8: active handoffs, the three playbook
# tables, recent signals, exchange rates (a demo rule's condition is in GBP), the last inbound
# message and the FAQ index's state.
CONTACT_PAGE_WITH_PLAYBOOK_QUERIES = 22


def logged_in(org: Org, username: str) -> Client:
    client = Client()
    client.force_login(org.users[username])
    return client


def inbound(external_id: str, body: str, key: str) -> None:
    message_receive(
        message=InboundMessage(
            contact={"external_id": external_id},
            account=None,
            channel="email",
            body=body,
            external_id=key,
        )
    )


def titles(items: list[Any]) -> list[str]:
    return [getattr(i, "title", None) or getattr(i, "name", "") for i in items]


def rule(title: str, **fields: Any) -> NextStepRule:
    return NextStepRule.objects.create(title=title, detail=f"How to: {title}", **fields)


@pytest.fixture
def ada(org: Org, send_signal: Any) -> Contact:
    """A £50,000 lead: a high-value Sales handoff, and Lead nurture (Acquire) paused for it."""
    assert send_signal(budget=50000, key="form-1").status_code == 202
    return Contact.objects.get(external_id="c-1001")


@pytest.fixture
def faq(db: Any) -> dict[str, FaqEntry]:
    entries = {
        "password": (
            "How do I reset my password?",
            "Use “Forgot password?” on the sign-in page.",
            "password reset forgot login",
        ),
        "export": (
            "Can I export my data?",
            "Yes: an admin exports CSV under Settings → Data export.",
            "export data download csv",
        ),
    }
    return {
        key: FaqEntry.objects.create(question=q, answer=a, keywords=k, status=FaqStatus.APPROVED)
        for key, (q, a, k) in entries.items()
    }


# --- the timeline moves the recommendations ------------------------------------------------------


def test_a_high_value_lead_gets_the_steps_content_and_drafts_tagged_for_it(
    org: Org, ada: Contact
) -> None:
    rule("Call within 15 minutes", loop_stages=["acquire"], triggers=["high_value"], weight=1)
    rule("Read the last touches")  # no tags: for every contact
    rule("Run the renewal review", loop_stages=["renew"])
    rule("Say sorry first", triggers=["sentiment"])
    ContentItem.objects.create(
        title="Discovery guide", url="https://x.example/d", loop_stages=["acquire"]
    )
    ContentItem.objects.create(
        title="Renewal deck", url="https://x.example/r", loop_stages=["renew"]
    )
    ReplyTemplate.objects.create(
        name="Book discovery",
        body="Hi {contact.first_name}, about {account.name}: shall we talk? {rep.first_name}",
        triggers=["high_value"],
    )

    book = playbook_for(contact=ada, principal=org.users["riley"])

    assert titles(book.next_steps) == ["Call within 15 minutes", "Read the last touches"]
    assert book.next_steps[0].because == ("Acquire stage", "High value handoff")
    assert book.next_steps[1].because == ("general advice, for every contact",)
    assert titles(book.content) == ["Discovery guide"]
    assert [d.body for d in book.drafts] == ["Hi Ada, about Acme Ltd: shall we talk? Riley"]
    assert book.basis == ("Acquire stage", "High value handoff")
    assert book.handoff_id == Handoff.objects.get(contact=ada).pk


def test_a_handoff_raised_brings_its_trigger_steps_and_resolving_it_takes_them_away(
    org: Org, send_signal: Any
) -> None:
    rule("Say sorry first", triggers=["sentiment"])
    rule("Nurture them", loop_stages=["acquire"])
    assert send_signal(budget=500, key="small").status_code == 202  # no handoff, just nurture
    alan = Contact.objects.get(external_id="c-1001")
    riley = org.users["riley"]
    assert titles(playbook_for(contact=alan, principal=riley).next_steps) == ["Nurture them"]

    inbound("c-1001", "This is useless, nobody has got back to me. I'm furious.", "angry-1")
    handoff = Handoff.objects.get(contact=alan)
    assert handoff.trigger == "sentiment"

    book = playbook_for(contact=alan, principal=riley)
    assert titles(book.next_steps) == ["Say sorry first", "Nurture them"]
    assert book.next_steps[0].because == ("Sentiment handoff",)

    handoff_resolve(handoff_id=handoff.pk, user=riley, resolution="Called", resume_automation=True)
    assert titles(playbook_for(contact=alan, principal=riley).next_steps) == ["Nurture them"]


def test_a_new_question_brings_a_different_faq_draft(
    org: Org, ada: Contact, faq: dict[str, FaqEntry]
) -> None:
    riley = org.users["riley"]
    assert playbook_for(contact=ada, principal=riley).drafts == []  # nothing asked yet

    inbound("c-1001", "How do I reset my password? I'm locked out.", "q-1")
    first = playbook_for(contact=ada, principal=riley).drafts
    assert [d.key for d in first] == [f"faq{faq['password'].pk}"]
    assert first[0].body == "Hi Ada,\n\nUse “Forgot password?” on the sign-in page."
    assert first[0].because[0].startswith("their last message asks “How do I reset my password?")
    assert first[0].because[1].startswith("FAQ match ")

    inbound("c-1001", "Also, can I export all our data as CSV?", "q-2")
    second = playbook_for(contact=ada, principal=riley).drafts
    assert [d.key for d in second] == [f"faq{faq['export'].pk}"]

    inbound("c-1001", "Thanks, that's all.", "q-3")  # not a question: no FAQ draft
    assert playbook_for(contact=ada, principal=riley).drafts == []


def onboarding(org: Org) -> Journey:
    """Trial onboarding: Kick-off (Onboard) waits for `activated`, then Adoption (Adopt)."""
    journey = Journey.objects.create(
        name="Trial onboarding", slug="trial", enroll_on_signal_type="trial_started"
    )
    kickoff = Stage.objects.create(
        journey=journey, name="Kick-off", loop_stage=LoopStage.ONBOARD, order=0
    )
    adoption = Stage.objects.create(
        journey=journey, name="Adoption", loop_stage=LoopStage.ADOPT, order=1
    )
    steps = [
        (kickoff, "wait_activation", "wait", {"until": "activated", "minutes": 4320}),
        (adoption, "settle", "wait", {"minutes": 10080}),
        (adoption, "done", "end", {"outcome": "completed"}),
    ]
    for order, (stage, key, kind, config) in enumerate(steps):
        Step.objects.create(
            journey=journey, stage=stage, key=key, order=order, kind=kind, config=config
        )
    journey_publish(journey=journey)
    return journey


def test_reaching_a_new_stage_brings_that_stages_steps_and_content(
    org: Org, integration: Any
) -> None:
    onboarding(org)
    rule("Offer a set-up call", loop_stages=["onboard"])
    rule("Share the week-one checklist", loop_stages=["adopt"])
    ContentItem.objects.create(
        title="Getting started", url="https://x.example/g", loop_stages=["onboard"]
    )
    ContentItem.objects.create(title="Week one", url="https://x.example/w", loop_stages=["adopt"])
    contact = {"external_id": "t-1", "name": "Tess Trial", "email": "tess@example.com"}

    def signal(kind: str, key: str) -> None:
        body = {"type": kind, "idempotency_key": key, "contact": contact}
        assert integration.post("/api/v1/signals/", body, format="json").status_code == 202

    signal("trial_started", "trial-1")
    tess = Contact.objects.get(external_id="t-1")
    at_kickoff = playbook_for(contact=tess, principal=org.users["olive"])
    assert titles(at_kickoff.next_steps) == ["Offer a set-up call"]
    assert titles(at_kickoff.content) == ["Getting started"]
    assert at_kickoff.content[0].because == ("Onboard stage",)

    signal("activated", "activated-1")  # the journey moves to Adoption
    adopted = playbook_for(contact=tess, principal=org.users["olive"])
    assert titles(adopted.next_steps) == ["Share the week-one checklist"]
    assert titles(adopted.content) == ["Week one"]
    assert adopted.basis == ("Adopt stage",)


def test_a_rule_condition_reads_the_contacts_recent_signals(
    org: Org, ada: Contact, send_signal: Any
) -> None:
    rule(
        "Loop in the director",
        triggers=["high_value"],
        condition={"path": "properties.budget", "op": ">=", "value": 100000, "currency": "GBP"},
    )
    riley = org.users["riley"]
    assert playbook_for(contact=ada, principal=riley).next_steps == []  # 50,000 is not enough

    assert send_signal(budget=150000, key="form-2").status_code == 202
    steps = playbook_for(contact=ada, principal=riley).next_steps
    assert titles(steps) == ["Loop in the director"]
    assert steps[0].because[0] == "High value handoff"
    assert "150,000" in steps[0].because[1] and "100,000" in steps[0].because[1]


def test_persona_comes_from_signals_and_picks_content(
    org: Org, ada: Contact, send_signal: Any
) -> None:
    ContentItem.objects.create(
        title="ROI calculator", url="https://x.example/roi", personas=["economic_buyer"]
    )
    riley = org.users["riley"]
    assert playbook_for(contact=ada, principal=riley).content == []

    properties = {"budget": 40000, "currency": "GBP", "persona": "Economic buyer"}
    assert send_signal(key="form-3", properties=properties).status_code == 202
    ada.refresh_from_db()
    assert ada.persona == "economic_buyer"
    book = playbook_for(contact=ada, principal=riley)
    assert titles(book.content) == ["ROI calculator"]
    assert book.content[0].because == ("Economic buyer",)

    # A value that is no persona is ignored: it never wipes the one the contact has.
    assert send_signal(key="form-4", properties={"persona": "CFO-ish"}).status_code == 202
    ada.refresh_from_db()
    assert ada.persona == "economic_buyer"


@pytest.mark.parametrize(
    ("raw", "persona"),
    [
        ("economic_buyer", "economic_buyer"),
        ("Technical evaluator", "technical_evaluator"),
        ("  END-USER ", "end_user"),
        ("champion!", "champion"),
        ("cfo", ""),
        (42, ""),
        (None, ""),
        ("x" * 200, ""),
    ],
)
def test_persona_from_reads_values_and_labels_in_any_case(raw: Any, persona: str) -> None:
    assert persona_from({"persona": raw}) == persona


# --- ops change the rules -----------------------------------------------------------------------


def test_ops_deactivating_or_retagging_a_rule_changes_the_contact_page_at_once(
    org: Org, ada: Contact
) -> None:
    call = rule("Call within 15 minutes", triggers=["high_value"])
    sorry = rule("Say sorry first", triggers=["sentiment"])
    riley = logged_in(org, "riley")
    page = riley.get(f"/contacts/{ada.pk}/").content.decode()
    assert "Call within 15 minutes" in page and "Say sorry first" not in page

    NextStepRule.objects.filter(pk=call.pk).update(active=False)
    NextStepRule.objects.filter(pk=sorry.pk).update(triggers=["sentiment", "high_value"])

    page = riley.get(f"/contacts/{ada.pk}/").content.decode()
    assert "Call within 15 minutes" not in page
    assert "Say sorry first" in page


def test_a_teams_rows_serve_only_contacts_that_team_is_working(org: Org, ada: Contact) -> None:
    rule("Sales: call them", team=org.teams["sales"])
    rule("Success: check their health", team=org.teams["success"])
    rule("Everyone: read the timeline")

    book = playbook_for(contact=ada, principal=org.users["lee"])  # lee reads every team
    assert titles(book.next_steps) == ["Everyone: read the timeline", "Sales: call them"]

    # With no handoff under way, a person's own teams decide.
    handoff_resolve(
        handoff_id=Handoff.objects.get(contact=ada).pk,
        user=org.users["sam"],
        resolution="Done",
        resume_automation=False,
    )
    casey_book = playbook_for(contact=ada, principal=org.users["casey"])
    assert titles(casey_book.next_steps) == [
        "Everyone: read the timeline",
        "Success: check their health",
    ]


def test_another_teams_question_gives_no_draft(
    org: Org, ada: Contact, faq: dict[str, FaqEntry]
) -> None:
    """The draft reads the timeline's team-scoped messages: a message tied to another team's
    handoff is that team's business."""
    handoff_raise(
        request=RaiseRequest(
            contact=ada,
            team=org.teams["success"],
            trigger="stage",
            priority="normal",
            reason="Renewal review",
            evidence={},
        )
    )
    Message.objects.create(
        conversation=conversation_for(ada),
        handoff=Handoff.objects.get(contact=ada, team=org.teams["success"]),
        direction="in",
        channel="email",
        body="How do I reset my password?",
    )
    assert playbook_for(contact=ada, principal=org.users["riley"]).drafts == []
    assert playbook_for(contact=ada, principal=org.users["casey"]).drafts != []


# --- the pages ----------------------------------------------------------------------------------


def test_the_contact_page_shows_the_recommendations_and_links_drafts_to_the_handoff(
    org: Org, ada: Contact
) -> None:
    rule("Call within 15 minutes", triggers=["high_value"])
    ContentItem.objects.create(title="Discovery guide", url="https://x.example/d")
    template = ReplyTemplate.objects.create(name="Book discovery", body="Hi {contact.first_name}")
    handoff = Handoff.objects.get(contact=ada)

    html = logged_in(org, "riley").get(f"/contacts/{ada.pk}/").content.decode()

    assert 'id="playbook"' in html
    assert "because: High value handoff" in html
    assert 'href="https://x.example/d" target="_blank" rel="noopener noreferrer"' in html
    assert f'href="/handoffs/{handoff.pk}/?draft=t{template.pk}"' in html
    assert '<pre class="pb-draft-body">Hi Ada</pre>' in html


def test_the_handoff_page_offers_each_draft_for_the_reply_box(org: Org, ada: Contact) -> None:
    template = ReplyTemplate.objects.create(name="Book discovery", body="Hi {contact.first_name}")
    handoff = Handoff.objects.get(contact=ada)

    html = logged_in(org, "riley").get(f"/handoffs/{handoff.pk}/").content.decode()

    start = html.index('<aside class="side">')
    aside = html[start : html.index("</aside>", start)]
    assert f'data-draft-key="t{template.pk}"' in aside
    assert "data-use-draft" in aside
    assert "playbook.js" in html


def test_an_empty_playbook_says_so(org: Org, ada: Contact) -> None:
    html = logged_in(org, "riley").get(f"/contacts/{ada.pk}/").content.decode()
    assert "Nothing in the playbook fits Ada Lovelace yet." in html


def test_showing_or_using_drafts_and_taking_over_send_nothing(
    org: Org, ada: Contact, faq: dict[str, FaqEntry]
) -> None:
    template = ReplyTemplate.objects.create(name="Hello", body="Hi {contact.first_name}")
    inbound("c-1001", "How do I reset my password?", "q-1")
    handoff = Handoff.objects.get(contact=ada)
    before = (OutboxEntry.objects.count(), Message.objects.filter(direction="out").count())
    riley = logged_in(org, "riley")

    assert riley.get(f"/contacts/{ada.pk}/").status_code == 200
    for key in (f"t{template.pk}", f"faq{faq['password'].pk}"):
        assert riley.get(f"/handoffs/{handoff.pk}/?draft={key}").status_code == 200
    assert riley.post(f"/handoffs/{handoff.pk}/claim/", HTTP_HX_REQUEST="true").status_code == 200

    handoff.refresh_from_db()
    assert handoff.assignee == org.users["riley"]  # taken over…
    assert (OutboxEntry.objects.count(), Message.objects.filter(direction="out").count()) == before


def test_the_handoff_pages_context_computes_the_playbook_only_when_shown(
    org: Org, ada: Contact
) -> None:
    """Live fragments and action responses reuse the page's context but never show the
    playbook: building the context must not read it."""
    handoff = Handoff.objects.select_related("contact", "team").get(contact=ada)
    with CaptureQueriesContext(connection) as queries:
        context = handoff_page_context(user=org.users["riley"], handoff=handoff)
    assert not any("playbook" in q["sql"] or "nextsteprule" in q["sql"] for q in queries)
    assert isinstance(context["playbook"](), Playbook)


def full_playbook(org: Org) -> None:
    seed_playbook()
    FaqEntry.objects.create(
        question="How do I reset my password?",
        answer="Use “Forgot password?”.",
        status=FaqStatus.APPROVED,
    )
    for n in range(20):  # rows that do not fit cost nothing per row either
        rule(f"Renewal step {n}", loop_stages=["renew"])


def test_the_contact_page_makes_the_same_number_of_queries_at_10_and_200_events(
    org: Org, ada: Contact, django_assert_num_queries: Any
) -> None:
    full_playbook(org)
    inbound("c-1001", "How do I reset my password?", "q-1")
    client = logged_in(org, "riley")
    client.get(f"/contacts/{ada.pk}/")  # warm per-process caches (the FAQ index) first
    add_history(ada, 6)

    with django_assert_num_queries(CONTACT_PAGE_WITH_PLAYBOOK_QUERIES):
        small = client.get(f"/contacts/{ada.pk}/").content.decode()
    assert 10 <= len(times(small)) < 50
    assert small.count('class="pb-draft"') == 2  # the FAQ answer and "Book discovery"
    assert "Call within 15 minutes, then book discovery" in small

    add_history(ada, 195)
    with django_assert_num_queries(CONTACT_PAGE_WITH_PLAYBOOK_QUERIES):
        large = client.get(f"/contacts/{ada.pk}/").content.decode()
    assert len(times(large)) == 50
    assert large.count('class="pb-draft"') == 2


def test_the_handoff_page_costs_the_same_with_a_long_conversation_and_a_big_playbook(
    org: Org, ada: Contact
) -> None:
    handoff = Handoff.objects.get(contact=ada)
    client = logged_in(org, "riley")
    full_playbook(org)
    inbound("c-1001", "How do I reset my password?", "q-1")
    client.get(f"/handoffs/{handoff.pk}/")

    with CaptureQueriesContext(connection) as small:
        client.get(f"/handoffs/{handoff.pk}/")
    add_history(ada, 300)
    for n in range(30):
        rule(f"Another step {n}", triggers=["high_value"])
    with CaptureQueriesContext(connection) as large:
        html = client.get(f"/handoffs/{handoff.pk}/").content.decode()
    assert len(large) == len(small)
    assert html.count("data-use-draft") == 2


# --- the demo's playbook ---------------------------------------------------------------------


def test_the_demo_playbook_is_valid_and_seeding_twice_changes_nothing(org: Org) -> None:
    for _title, _detail, _stages, _triggers, condition, _team, _weight in NEXT_STEPS:
        assert not condition or condition_errors(condition) == []
    for _name, body, *_rest in TEMPLATES:
        assert body_errors(body) == []
    seed_playbook()
    counts = (NextStepRule.objects.count(), ContentItem.objects.count())
    seed_playbook()
    assert counts == (NextStepRule.objects.count(), ContentItem.objects.count())
    assert counts == (len(NEXT_STEPS), len(CONTENT))
    assert ReplyTemplate.objects.count() == len(TEMPLATES)


def test_the_demo_playbook_speaks_to_a_renewal_under_way(
    org: Org, integration: Any, django_capture_on_commit_callbacks: Any
) -> None:
    seed_playbook()
    journey = Journey.objects.create(
        name="Renewal", slug="renewal", enroll_on_signal_type="renewal_due"
    )
    stage = Stage.objects.create(journey=journey, name="Review", loop_stage=LoopStage.RENEW)
    Step.objects.create(
        journey=journey,
        stage=stage,
        key="review",
        kind="handoff",
        team=org.teams["success"],
        config={"team": "success", "priority": "normal", "trigger": "stage", "reason": "Review"},
    )
    journey_publish(journey=journey)
    body = {
        "type": "renewal_due",
        "contact": {"external_id": "m-1", "name": "Margaret Hamilton"},
        "account": {"external_id": "apollo", "name": "Apollo Guidance"},
        "properties": {"days_to_renewal": 60, "arr": 48000},
        "occurred_at": (timezone.now() - timedelta(minutes=5)).isoformat(),
    }
    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the first step
        assert integration.post("/api/v1/signals/", body, format="json").status_code == 202
    margaret = Contact.objects.get(external_id="m-1")

    book = playbook_for(contact=margaret, principal=org.users["casey"])

    assert book.next_steps[0].title == "Run the renewal review"
    assert book.next_steps[0].because == ("Renew stage", "Stage moment handoff")
    assert "Renewal review deck" in titles(book.content)
    assert book.drafts[0].title == "Renewal review invitation"
    assert "renews in 60 days" in book.drafts[0].body and "Apollo Guidance" in book.drafts[0].body
