"""Admin → Triage phrases → "Try a message": ops paste a message and see what triage would do,
through the same reading as ingest, and nothing in the database changes. Staff only, for
people who may view triage phrases; bad input is a form error. Phrases that are not valid
patterns are refused by the phrase form."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from conftest import Org
from handoffs.models import (
    FaqEntry,
    Handoff,
    HandoffEvent,
    Message,
    OutboxEntry,
    TriagePhrase,
    TriageSettings,
)
from handoffs.triage import defaults
from handoffs.triage.choices import FaqStatus
from journeys.models import Contact

URL = "/admin/handoffs/triagephrase/try/"
MODELS = [Contact, Message, Handoff, HandoffEvent, OutboxEntry, TriagePhrase, FaqEntry]


@pytest.fixture
def ops(org: Org) -> Client:
    """Olive: staff, not a superuser, with the triage permissions the demo gives ops."""
    olive = org.users["olive"]
    olive.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="handoffs",
            codename__in=[
                "view_triagephrase",
                "add_triagephrase",
                "change_triagephrase",
                "view_triagesettings",
                "change_triagesettings",
                "view_faqentry",
            ],
        )
    )
    client = Client()
    client.force_login(olive)
    return client


@pytest.fixture
def faq(db: Any) -> list[FaqEntry]:
    return [
        FaqEntry.objects.create(question=q, answer=a, keywords=k, status=FaqStatus.APPROVED)
        for q, a, k in defaults.STARTER_FAQ
    ]


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS} | {
        "settings": TriageSettings.objects.count()
    }


def try_message(client: Client, text: str, **more: Any) -> str:
    response = client.post(URL, {"text": text, "channel": "sms", **more})
    assert response.status_code == 200
    return response.content.decode()


def test_an_angry_message_shows_the_sentiment_handoff_it_would_raise_and_changes_nothing(
    org, ops, faq
):
    before = counts()

    page = try_message(ops, "This is the third time I'm asking. Ridiculous.")

    assert counts() == before
    assert 'data-label="angry"' in page and 'data-needs-human="true"' in page
    assert "Needs a person: a sentiment handoff, high priority" in page
    assert "An anger phrase" in page and "<mark>third time</mark>" in page
    phrase = TriagePhrase.objects.get(
        kind="angry",
        phrase="second|third|fourth|fifth|sixth|2nd|3rd|4th|5th|6th|nth|umpteenth|hundredth time",
    )
    assert f"/admin/handoffs/triagephrase/{phrase.pk}/change/" in page  # the deciding phrase
    assert "Sentiment, high priority, offered to the owning team" in page
    assert "Reason, as the inbox shows it: Angry reply (VADER −0." in page
    assert "Angry at or below −0.60; positive at or above +0.75" in page


def test_a_question_the_faq_answers_shows_the_answer_and_the_scores_against_the_threshold(
    org, ops, faq
):
    before = counts()

    page = try_message(ops, "What are your opening hours?")

    assert counts() == before
    assert 'data-label="faq"' in page and 'data-needs-human="false"' in page
    assert "Stays with automation: the bot answers from the FAQ" in page
    assert "Our team is available Monday to Friday" in page  # the reply it would send
    assert defaults.ASSISTANT_SIGNATURE in page
    assert "the bot answers at 0.45 or above" in page
    assert f"/admin/handoffs/faqentry/{faq[0].pk}/change/" in page
    assert "at or above: answers" in page


def test_a_question_the_faq_cannot_answer_shows_the_complexity_handoff_and_holding_reply(
    org, ops, faq
):
    page = try_message(ops, "Can I bring my parrot to the onboarding workshop?")

    assert 'data-label="question"' in page
    assert "Needs a person: a complexity handoff, after the bot&#x27;s holding reply" in page
    assert "Complexity, normal priority, in the owning team&#x27;s pool" in page
    assert defaults.HOLDING_REPLY in page


def test_an_opt_out_names_the_channel_it_would_mark(org, ops, faq):
    before = counts()

    page = try_message(ops, "pls stop txting me", channel="whatsapp")

    assert counts() == before
    assert 'data-label="opt_out"' in page
    assert "marked opted out of WhatsApp" in page
    assert "Opted out of WhatsApp (VADER" in page


def test_a_routine_reply_is_only_labelled_and_the_faq_was_not_consulted(org, ops, faq):
    page = try_message(ops, "Tuesday at 3")

    assert 'data-label="routine"' in page
    assert "Stays with automation: only the label is recorded" in page
    assert "Not consulted: the message is not a question" in page
    assert "None: the bot stays quiet." in page


def test_with_a_person_on_the_conversation_nothing_new_is_raised(org, ops, faq):
    page = try_message(ops, "What are your opening hours?", person_has_it="on")

    assert "Needs a person: the person who has the conversation sees it" in page
    assert "None: the message wakes the handoff a person already has." in page
    assert "Not consulted: a person has the conversation" in page


def test_without_a_settings_row_the_page_reads_the_defaults_and_creates_none(org, ops, faq):
    TriageSettings.objects.all().delete()

    page = try_message(ops, "This is ridiculous")

    assert not TriageSettings.objects.exists()
    assert 'data-label="angry"' in page


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "Paste a message to try."),
        ("   \n ", "Paste a message to try."),
        ("x" * 2001, "Keep it to 2,000 characters: triage reads no further (this one has 2001)."),
    ],
)
def test_bad_input_is_a_form_error_and_no_decision(org, ops, text, error):
    page = try_message(ops, text)

    assert error in page
    assert 'id="triage-decision"' not in page


def test_the_page_is_linked_from_the_triage_changelists_and_the_settings_form(org, ops):
    settings_row = TriageSettings.objects.get_or_create(pk=1)[0]
    for url in [
        "/admin/handoffs/triagephrase/",
        "/admin/handoffs/triagesettings/",
        f"/admin/handoffs/triagesettings/{settings_row.pk}/change/",
        "/admin/handoffs/faqentry/",
    ]:
        page = ops.get(url).content.decode()
        assert f'href="{URL}"' in page, url

    assert ops.get(URL).status_code == 200


def test_people_who_are_not_staff_are_sent_to_the_admin_login(org):
    rep = Client()
    rep.force_login(org.users["riley"])

    response = rep.post(URL, {"text": "STOP", "channel": "sms"})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_who_may_not_view_triage_phrases_are_refused(org):
    olive = org.users["olive"]  # staff, but no permissions granted here
    client = Client()
    client.force_login(olive)
    before = counts()

    assert client.get(URL).status_code == 403
    assert client.post(URL, {"text": "STOP", "channel": "sms"}).status_code == 403
    assert counts() == before


def test_the_page_costs_a_fixed_number_of_queries(org, ops, faq, django_assert_num_queries):
    try_message(ops, "What are your opening hours?")  # builds and caches phrases and FAQ

    # session, user, 2 × permissions, settings, phrase-table state, FAQ state, the deciding
    # phrase's row (for its link), the sidebar's "may add settings?" check
    with django_assert_num_queries(9):
        try_message(ops, "This is the third time I'm asking")


@pytest.mark.parametrize(
    ("phrase", "error"),
    [
        ("* off list", "A pattern cannot start with “*”"),
        ("take me off *", "A pattern cannot end with “*”"),
        ("stop||texting", "an empty choice around “|”"),
        ("!!!", "A phrase needs at least one word."),
    ],
)
def test_the_phrase_form_refuses_a_pattern_it_cannot_read(org, ops, phrase, error):
    response = ops.post(
        "/admin/handoffs/triagephrase/add/",
        {"kind": "angry", "phrase": phrase, "enabled": "on"},
    )

    assert response.status_code == 200  # the form again, with the reason
    assert error in response.content.decode()
    assert not TriagePhrase.objects.filter(phrase=phrase).exists()


def test_a_new_pattern_from_admin_is_live_for_the_next_message(org, ops):
    ops.post(
        "/admin/handoffs/triagephrase/add/",
        {"kind": "opt_out", "phrase": "go   away|off  *  forever", "enabled": "on"},
    )

    assert TriagePhrase.objects.filter(phrase="go away|off * forever").exists()
    page = try_message(ops, "Please, go away. Forever.")
    assert 'data-label="opt_out"' in page
