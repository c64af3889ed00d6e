"""The label of one inbound message, and whether it needs a person. Pure: the phrases, the
thresholds and the FAQ ranker come in as arguments, so the service and the evaluation command
(`manage.py evaluate_triage`) decide with exactly the same code.

Order of precedence: an opt-out phrase, an anger phrase, a VADER score at or below the anger
threshold, a shouted word (capitals, not an acronym) in a negative message, a confusion phrase
(or a bare "??"), a specialist topic (contract, GDPR…: a question for a person, whatever the
FAQ says), a positive-intent phrase, a question (answered from the FAQ when the best entry
scores at or above the FAQ threshold, else a question for a specialist), a VADER score at or
above the positive threshold, and otherwise routine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from handoffs.triage.choices import SENTIMENT_LABELS, PhraseKind, TriageLabel
from handoffs.triage.text import (
    find_phrase,
    is_question,
    only_question_marks,
    shouted,
    words,
)


@dataclass(frozen=True)
class Phrase:
    kind: str
    text: str  # as ops wrote it: quoted in reasons
    tokens: tuple[str, ...]
    whole_message: bool = False


@dataclass(frozen=True)
class Phrasebook:
    phrases: tuple[Phrase, ...]

    @classmethod
    def build(cls, entries: Iterable[tuple[str, str, bool]]) -> Phrasebook:
        """From (kind, phrase, whole_message) rows; longest phrases first, so the evidence quotes
        the most specific one ("stop texting me" rather than "stop")."""
        phrases = [
            Phrase(kind=kind, text=text.strip(), tokens=words(text), whole_message=whole)
            for kind, text, whole in entries
            if words(text)
        ]
        phrases.sort(key=lambda p: (-len(p.tokens), p.text))
        return cls(phrases=tuple(phrases))

    def match(self, kind: str, tokens: tuple[str, ...]) -> Phrase | None:
        negatable = kind in (PhraseKind.POSITIVE, PhraseKind.ANGRY)  # "not angry, just…"
        for phrase in self.phrases:
            if phrase.kind == kind and find_phrase(
                tokens, phrase.tokens, whole_message=phrase.whole_message, negatable=negatable
            ):
                return phrase
        return None


@dataclass(frozen=True)
class Thresholds:
    angry_at_most: float  # VADER compound at or below which a message reads angry
    positive_at_least: float  # VADER compound at or above which a message reads positive
    faq_match_at_least: float  # normalised FAQ score (0–1) at or above which the bot answers


@dataclass(frozen=True)
class Candidate:
    """One FAQ entry and how well it answers the message (0–1, see handoffs/triage/faq.py)."""

    entry_id: int
    question: str
    answer: str
    score: float


Ranker = Callable[[str], Sequence[Candidate]]


@dataclass(frozen=True)
class Decision:
    label: str
    sentiment: float
    phrase: str = ""  # the phrase that decided, as ops wrote it
    candidates: tuple[Candidate, ...] = field(default=())  # for questions: best first

    @property
    def needs_human(self) -> bool:
        return self.label in SENTIMENT_LABELS or self.label == TriageLabel.QUESTION

    @property
    def answer(self) -> Candidate | None:
        return self.candidates[0] if self.label == TriageLabel.FAQ else None


@cache
def _analyzer() -> Any:  # vaderSentiment has no type hints
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()  # the lexicon ships in the wheel: no network


def sentiment_of(text: str) -> float:
    """VADER's compound score, −1 (most negative) to +1."""
    return float(_analyzer().polarity_scores(text[:2000])["compound"])


def triage_decide(
    text: str, *, phrases: Phrasebook, thresholds: Thresholds, rank: Ranker
) -> Decision:
    tokens = words(text)
    score = round(sentiment_of(text), 4)
    for kind, label in (
        (PhraseKind.OPT_OUT, TriageLabel.OPT_OUT),
        (PhraseKind.ANGRY, TriageLabel.ANGRY),
    ):
        if phrase := phrases.match(kind, tokens):
            return Decision(label=label, sentiment=score, phrase=phrase.text)
    if score <= thresholds.angry_at_most:
        return Decision(label=TriageLabel.ANGRY, sentiment=score)
    if (caps := shouted(text)) and score < 0:
        return Decision(label=TriageLabel.ANGRY, sentiment=score, phrase=caps)
    if phrase := phrases.match(PhraseKind.CONFUSED, tokens):
        return Decision(label=TriageLabel.CONFUSED, sentiment=score, phrase=phrase.text)
    if only_question_marks(text):
        return Decision(label=TriageLabel.CONFUSED, sentiment=score, phrase=text.strip()[:20])
    if phrase := phrases.match(PhraseKind.SPECIALIST, tokens):
        return Decision(label=TriageLabel.QUESTION, sentiment=score, phrase=phrase.text)
    if phrase := phrases.match(PhraseKind.POSITIVE, tokens):
        return Decision(label=TriageLabel.POSITIVE, sentiment=score, phrase=phrase.text)
    if is_question(text, tokens):
        candidates = tuple(rank(text))
        answered = bool(candidates) and candidates[0].score >= thresholds.faq_match_at_least
        return Decision(
            label=TriageLabel.FAQ if answered else TriageLabel.QUESTION,
            sentiment=score,
            candidates=candidates,
        )
    if score >= thresholds.positive_at_least:
        return Decision(label=TriageLabel.POSITIVE, sentiment=score)
    return Decision(label=TriageLabel.ROUTINE, sentiment=score)
