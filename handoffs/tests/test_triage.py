"""Triage's reading of a message (pure): phrases match tolerantly and whole-word, each trigger's
messages get their label, and the FAQ ranker's normalised scores mean something."""

from __future__ import annotations

import pytest

from handoffs.triage import defaults
from handoffs.triage.classify import Candidate, Decision, Phrasebook, Thresholds, triage_decide
from handoffs.triage.faq import FaqDoc, FaqIndex, faq_terms
from handoffs.triage.text import find_phrase, is_question, shouted, words

BOOK = Phrasebook.build(defaults.PHRASES)
THRESHOLDS = Thresholds(
    angry_at_most=defaults.ANGRY_AT_MOST,
    positive_at_least=defaults.POSITIVE_AT_LEAST,
    faq_match_at_least=defaults.FAQ_MATCH_AT_LEAST,
)
STARTER = FaqIndex(
    FaqDoc(entry_id=n, question=q, answer=a, keywords=k)
    for n, (q, a, k) in enumerate(defaults.STARTER_FAQ, start=1)
)


def decide(text: str, index: FaqIndex = STARTER) -> Decision:
    return triage_decide(text, phrases=BOOK, thresholds=THRESHOLDS, rank=index.rank)


@pytest.mark.parametrize(
    ("text", "phrase", "whole", "found"),
    [
        ("STOP", "stop", True, True),
        ("  Stop.  ", "stop", True, True),
        ("stop please!", "stop", True, True),
        ("stop 🛑", "stop", True, True),
        ("Please don't stop the updates", "stop", True, False),
        ("I bought a stopwatch", "stop", False, False),
        ("Stop   TEXTING me!!!", "stop texting me", False, True),
        ("I dont understand", "I don't understand", False, True),
        ("I don’t understand", "I don't understand", False, True),
        ("understand I don't", "I don't understand", False, False),
    ],
)
def test_phrases_match_whole_words_ignoring_case_punctuation_and_apostrophes(
    text: str, phrase: str, whole: bool, found: bool
) -> None:
    assert find_phrase(words(text), words(phrase), whole_message=whole, negatable=False) is found


def test_a_negated_positive_phrase_does_not_count() -> None:
    assert find_phrase(
        words("yes interested"), ("interested",), whole_message=False, negatable=True
    )
    assert not find_phrase(
        words("not interested"), ("interested",), whole_message=False, negatable=True
    )


@pytest.mark.parametrize(
    ("text", "label", "phrase"),
    [
        ("STOP", "opt_out", "stop"),
        ("Stop texting me", "opt_out", "stop texting me"),
        ("please remove me from your list", "opt_out", "remove me from your list"),
        ("unsubscribe", "opt_out", "unsubscribe"),
        ("This is the third time I'm asking", "angry", "third time I'm asking"),
        ("This is ridiculous.", "angry", "this is ridiculous"),
        ("Ugh, the link expired AGAIN", "angry", "AGAIN"),
        ("I don't understand", "confused", "i don't understand"),
        ("What does this mean?", "confused", "what does this mean"),
        ("??", "confused", "??"),
        ("Yes, I'm interested", "positive", "yes i'm interested"),
        ("sounds good, call me", "positive", "call me"),
        ("Tuesday at 3pm works for me", "positive", "works for me"),
        ("We need the DPA signed", "question", "dpa"),
        ("ok", "routine", ""),
        ("2 years", "routine", ""),
        ("I bought a stopwatch from you", "routine", ""),
    ],
)
def test_each_trigger_reads_its_messages(text: str, label: str, phrase: str) -> None:
    decision = decide(text)

    assert (decision.label, decision.phrase.casefold()) == (label, phrase.casefold())


def test_a_very_negative_message_is_angry_without_a_phrase() -> None:
    decision = decide("You are the worst, most hopeless, awful company I have ever dealt with")

    assert decision.label == "angry"
    assert decision.sentiment <= THRESHOLDS.angry_at_most or decision.phrase


def test_a_message_all_in_capitals_is_a_habit_not_shouting() -> None:
    assert shouted("I DON'T want to rebook") == "DON'T"
    assert shouted("HI CAN YOU CALL ME") == ""
    assert shouted("Please send the GDPR and SSO details") == ""


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("What are your opening hours?", True),
        ("how do i reset my password", True),
        ("I was wondering about the trial", True),
        ("hello?", False),
        ("Tuesday works", False),
    ],
)
def test_questions_end_with_a_question_mark_or_open_with_a_question_word(
    text: str, question: bool
) -> None:
    assert is_question(text, words(text)) is question


@pytest.mark.parametrize(
    "text",
    [
        "What are your opening hours?",
        "When are you open?",
        "How do I reset my password?",
        "Do you have a free trial?",
        "Where can I see your pricing?",
        "Where are you based?",
    ],
)
def test_faq_questions_are_answered_by_the_bot(text: str) -> None:
    decision = decide(text)

    assert decision.label == "faq"
    assert decision.answer is not None
    assert not decision.needs_human


@pytest.mark.parametrize(
    "text",
    [
        "Do you integrate with our in-house ERP from 2009?",
        "Can my team get a custom onboarding plan for our three sites?",
        "What happens to our historical data if we merge two workspaces?",
    ],
)
def test_questions_the_faq_cannot_answer_need_a_specialist(text: str) -> None:
    decision = decide(text)

    assert decision.label == "question"
    assert decision.needs_human


def test_faq_scores_are_normalised_between_zero_and_one() -> None:
    exact = STARTER.rank("What are your opening hours?")[0]
    vague = STARTER.rank("hours for the warehouse team in Leeds tomorrow?")

    assert 0.7 <= exact.score <= 1.0
    assert not vague or vague[0].score < exact.score


def test_an_empty_faq_ranks_nothing_and_the_question_goes_to_a_person() -> None:
    decision = decide("What are your opening hours?", FaqIndex([]))

    assert (decision.label, decision.candidates) == ("question", ())


def test_the_ranker_stems_and_drops_stopwords() -> None:
    assert faq_terms("What are your shipping charges?") == ["ship", "charge"]


def test_the_decision_uses_whatever_ranker_it_is_given() -> None:
    def always(_text: str) -> list[Candidate]:
        return [Candidate(entry_id=7, question="Q", answer="A", score=0.99)]

    decision = triage_decide(
        "Is there parking nearby?", phrases=BOOK, thresholds=THRESHOLDS, rank=always
    )

    assert decision.label == "faq"
    assert decision.answer == Candidate(entry_id=7, question="Q", answer="A", score=0.99)
