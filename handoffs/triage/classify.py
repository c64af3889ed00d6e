"""The label of one inbound message, and whether it needs a person. Pure: the phrases, the
thresholds and the FAQ ranker come in as arguments, so the service and the evaluation command
(`manage.py evaluate_triage`) decide with exactly the same code.

Order of precedence: an opt-out phrase, an anger phrase, a VADER score at or below the anger
threshold, a shouted word (capitals, not an acronym) in a negative message, a confusion phrase
(or a bare "??"), a specialist topic (contract, GDPR…: a question for a person, whatever the
FAQ says), a positive-intent phrase, a question (answered from the FAQ when the best entry
scores at or above the FAQ threshold, else a question for a specialist; a question quoting an
order, ticket or invoice number always goes to a specialist), a VADER score at or above the
positive threshold, and otherwise routine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from handoffs.triage.choices import SENTIMENT_LABELS, PhraseKind, TriageLabel
from handoffs.triage.patterns import Message, Pattern, PatternError, Speller, compile_pattern
from handoffs.triage.text import is_question, only_question_marks, reference, shouted


@dataclass(frozen=True)
class Phrase:
    kind: str
    text: str  # as ops wrote it: quoted in reasons
    pattern: Pattern
    whole_message: bool = False


@dataclass(frozen=True)
class Match:
    phrase: Phrase
    words: str  # the message's words it matched ("stop sending me texts")


@dataclass(frozen=True)
class Phrasebook:
    phrases: tuple[Phrase, ...]  # most specific first
    speller: Speller = field(default_factory=lambda: Speller(()))
    # (kind, first key) → positions in `phrases`: only phrases whose first word is in the
    # message are tried, which keeps a message at well under a millisecond.
    starts: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, entries: Iterable[tuple[str, str, bool]]) -> Phrasebook:
        """From (kind, phrase, whole_message) rows; the most specific first (most word places),
        so the evidence quotes "stop texting me" rather than "stop". A row that is not a valid
        pattern (the admin form refuses those) is left out rather than failing every message."""
        phrases = []
        for kind, text, whole in entries:
            try:
                pattern = compile_pattern(text)
            except PatternError:
                continue
            phrase = Phrase(kind=kind, text=pattern.text, pattern=pattern, whole_message=whole)
            phrases.append(phrase)
        phrases.sort(key=lambda p: (-p.pattern.size, p.text))
        known = (word for p in phrases for word in p.pattern.known_words())
        starts: dict[tuple[str, str], list[int]] = {}
        for position, phrase in enumerate(phrases):
            for first in phrase.pattern.first_keys:
                starts.setdefault((phrase.kind, first), []).append(position)
        return cls(
            phrases=tuple(phrases),
            speller=Speller(known),
            starts={k: tuple(v) for k, v in starts.items()},
        )

    def read(self, text: str) -> Message:
        return Message.read(text, self.speller)

    def match(self, kind: str, message: Message) -> Match | None:
        negatable = kind in (PhraseKind.POSITIVE, PhraseKind.ANGRY)  # "not angry, just…"
        candidates = sorted({n for k in message.all_keys for n in self.starts.get((kind, k), ())})
        for position in candidates:
            phrase = self.phrases[position]
            found = message.find(
                phrase.pattern, whole_message=phrase.whole_message, negatable=negatable
            )
            if found is not None:
                return Match(phrase=phrase, words=found)
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
    matched: str = ""  # the message's words that phrase matched
    candidates: tuple[Candidate, ...] = field(default=())  # for questions: best first
    rule: str = ""  # which step of the order of precedence decided, in words

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


class Rule:
    """The steps of the order of precedence, as the evidence and the admin page name them."""

    OPT_OUT = "an opt-out phrase"
    ANGRY = "an anger phrase"
    VERY_NEGATIVE = "VADER at or below the anger threshold"
    SHOUTED = "a word in capitals in a negative message"
    CONFUSED = "a confusion phrase"
    MARKS = "only question marks"
    SPECIALIST = "a specialist topic"
    POSITIVE = "a positive-intent phrase"
    REFERENCE = "a question about an order, ticket or invoice number"
    FAQ = "a question the FAQ answers"
    NO_FAQ = "a question the FAQ cannot answer"
    VERY_POSITIVE = "VADER at or above the positive threshold"
    NOTHING = "nothing else applied"


def triage_decide(
    text: str, *, phrases: Phrasebook, thresholds: Thresholds, rank: Ranker
) -> Decision:
    message = phrases.read(text)
    score = round(sentiment_of(text), 4)

    def by(label: str, rule: str, found: Match) -> Decision:
        return Decision(
            label=label, sentiment=score, phrase=found.phrase.text, matched=found.words, rule=rule
        )

    def plain(label: str, rule: str, words: str = "") -> Decision:
        return Decision(label=label, sentiment=score, phrase=words, matched=words, rule=rule)

    if found := phrases.match(PhraseKind.OPT_OUT, message):
        return by(TriageLabel.OPT_OUT, Rule.OPT_OUT, found)
    if found := phrases.match(PhraseKind.ANGRY, message):
        return by(TriageLabel.ANGRY, Rule.ANGRY, found)
    if score <= thresholds.angry_at_most:
        return plain(TriageLabel.ANGRY, Rule.VERY_NEGATIVE)
    if (caps := shouted(text)) and score < 0:
        return plain(TriageLabel.ANGRY, Rule.SHOUTED, caps)
    if found := phrases.match(PhraseKind.CONFUSED, message):
        return by(TriageLabel.CONFUSED, Rule.CONFUSED, found)
    if only_question_marks(text):
        return plain(TriageLabel.CONFUSED, Rule.MARKS, text.strip()[:20])
    if found := phrases.match(PhraseKind.SPECIALIST, message):
        return by(TriageLabel.QUESTION, Rule.SPECIALIST, found)
    if found := phrases.match(PhraseKind.POSITIVE, message):
        return by(TriageLabel.POSITIVE, Rule.POSITIVE, found)
    if is_question(text, message.tokens):
        if ref := reference(text):  # about this contact's own order, ticket or invoice
            return plain(TriageLabel.QUESTION, Rule.REFERENCE, ref)
        candidates = tuple(rank(text))
        answered = bool(candidates) and candidates[0].score >= thresholds.faq_match_at_least
        return Decision(
            label=TriageLabel.FAQ if answered else TriageLabel.QUESTION,
            sentiment=score,
            candidates=candidates,
            rule=Rule.FAQ if answered else Rule.NO_FAQ,
        )
    if score >= thresholds.positive_at_least:
        return plain(TriageLabel.POSITIVE, Rule.VERY_POSITIVE)
    return plain(TriageLabel.ROUTINE, Rule.NOTHING)
