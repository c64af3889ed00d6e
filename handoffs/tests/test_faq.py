"""The knowledge base loop: a question the FAQ cannot answer, the rep's reply, one click to save
the pair as a FAQ candidate (only for people who can work the handoff's team), ops approving or
rejecting it in admin, and the ranker answering from it from then on."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conftest import Org
from handoffs.models import FaqEntry, Handoff, Message
from handoffs.services import handoff_reply
from handoffs.triage.config import faq_index
from handoffs.triage.views import ALREADY, SAVED

URL = "/api/v1/messages/inbound/"
QUESTION = "Can I bring my dog to the onboarding workshop?"
ANSWER = "Of course — dogs are welcome at all our workshops."


def logged_in(org: Org, username: str) -> Client:
    client = Client()
    client.force_login(org.users[username])
    return client


def htmx_post(client: Client, url: str) -> Any:
    return client.post(url, {}, HTTP_HX_REQUEST="true")


def ask(integration: Any, text: str = QUESTION, n: int = 1) -> None:
    body = {
        "contact": {"external_id": "c-7", "name": "Grace Hopper", "email": "grace@example.com"},
        "channel": "email",
        "body": text,
        "external_id": f"q-{n}",
    }
    assert integration.post(URL, body, format="json").status_code == 202


@pytest.fixture
def question(org: Org, integration: Any) -> Handoff:
    ask(integration)
    handoff = Handoff.objects.get()
    assert (handoff.trigger, handoff.team.slug) == ("complexity", "sales")
    return handoff


def save(client: Client, handoff: Handoff) -> Any:
    return htmx_post(client, f"/handoffs/{handoff.pk}/faq-candidate/")


def test_one_click_turns_the_question_and_the_reply_into_a_candidate(org, question):
    handoff_reply(handoff_id=question.pk, user=org.users["riley"], body=ANSWER)

    response = save(logged_in(org, "riley"), question)

    assert response.status_code == 200
    assert SAVED in response.content.decode()
    entry = FaqEntry.objects.get()
    assert (entry.question, entry.answer, entry.status) == (QUESTION, ANSWER, "candidate")
    assert (entry.source_handoff, entry.created_by) == (question, org.users["riley"])


def test_saving_twice_keeps_one_candidate(org, question):
    handoff_reply(handoff_id=question.pk, user=org.users["riley"], body=ANSWER)
    client = logged_in(org, "riley")
    save(client, question)

    response = save(client, question)

    assert ALREADY in response.content.decode()
    assert FaqEntry.objects.count() == 1


def test_there_is_nothing_to_save_before_a_person_replied(org, question):
    response = save(logged_in(org, "riley"), question)

    assert "Reply to the contact first" in response.content.decode()
    assert not FaqEntry.objects.exists()


def test_a_teammate_who_did_not_reply_may_save_the_pair(org, question):
    handoff_reply(handoff_id=question.pk, user=org.users["riley"], body=ANSWER)

    save(logged_in(org, "rob"), question)

    assert FaqEntry.objects.get().created_by == org.users["rob"]


def test_a_reader_who_cannot_work_the_team_is_refused(org, question):
    handoff_reply(handoff_id=question.pk, user=org.users["riley"], body=ANSWER)

    response = save(logged_in(org, "lee"), question)

    assert "Your role cannot work this team" in response.content.decode()
    assert not FaqEntry.objects.exists()


def test_another_teams_member_gets_a_404(org, question):
    handoff_reply(handoff_id=question.pk, user=org.users["riley"], body=ANSWER)

    response = save(logged_in(org, "casey"), question)

    assert response.status_code == 404
    assert not FaqEntry.objects.exists()


def test_the_button_shows_on_complexity_handoffs_to_people_who_can_work_them(
    org, question, send_signal
):
    page = logged_in(org, "riley").get(f"/handoffs/{question.pk}/").content.decode()
    assert "data-faq-candidate" in page
    assert 'data-triage="question"' in page  # the contact's message is badged
    reader = logged_in(org, "lee").get(f"/handoffs/{question.pk}/").content.decode()
    assert "data-faq-candidate" not in reader
    assert send_signal(budget=90000, external_id="c-9", key="f-9").status_code == 202
    other = Handoff.objects.get(trigger="high_value")
    assert (
        "data-faq-candidate"
        not in logged_in(org, "riley").get(f"/handoffs/{other.pk}/").content.decode()
    )


def test_an_angry_message_on_an_active_handoff_is_badged_on_its_page(org, question, integration):
    ask(integration, "This is ridiculous, nobody has replied", n=2)

    page = logged_in(org, "riley").get(f"/handoffs/{question.pk}/").content.decode()

    assert Handoff.objects.count() == 1
    assert 'data-triage="angry"' in page


# ---- admin ----------------------------------------------------------------------------------


@pytest.fixture
def ops(org: Org) -> Client:
    olive = org.users["olive"]
    olive.is_superuser = True
    olive.save()
    client = Client()
    client.force_login(olive)
    return client


def candidate(handoff: Handoff | None = None) -> FaqEntry:
    return FaqEntry.objects.create(question=QUESTION, answer=ANSWER, source_handoff=handoff)


def act(client: Client, action: str, entries: list[FaqEntry]) -> Any:
    return client.post(
        "/admin/handoffs/faqentry/",
        {"action": action, "_selected_action": [str(e.pk) for e in entries]},
        follow=True,
    )


def test_ops_see_candidates_in_admin(org, ops, question):
    candidate(question)

    page = ops.get("/admin/handoffs/faqentry/?status__exact=candidate").content.decode()

    assert QUESTION in page


def test_approving_makes_the_entry_live_for_the_ranker(org, ops, integration):
    entry = candidate()
    act(ops, "approve", [entry])

    entry.refresh_from_db()
    assert (entry.status, entry.reviewed_by) == ("approved", org.users["olive"])
    assert entry.reviewed_at is not None
    ask(integration, "Can I bring my dog to the workshop?", n=5)
    reply = Message.objects.get(direction="out")
    assert reply.body.startswith(ANSWER)
    assert not Handoff.objects.exists()


def test_rejecting_keeps_the_entry_out(org, ops, integration):
    entry = candidate()
    act(ops, "reject", [entry])

    assert FaqEntry.objects.get().status == "rejected"
    ask(integration, "Can I bring my dog to the workshop?", n=5)
    assert Handoff.objects.get().trigger == "complexity"


def test_the_index_is_built_once_per_faq_state(org):
    entry = candidate()
    first = faq_index()
    assert faq_index() is first
    assert first.rank(QUESTION) == []  # candidates are not live

    FaqEntry.objects.filter(pk=entry.pk).update(status="approved")
    FaqEntry.objects.get(pk=entry.pk).save()  # bumps updated_at, as admin does

    rebuilt = faq_index()
    assert rebuilt is not first
    assert rebuilt.rank(QUESTION)[0].entry_id == entry.pk
