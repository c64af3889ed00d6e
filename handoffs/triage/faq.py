"""The FAQ ranker: BM25 (bm25s) over each approved entry's question and keywords, with scores
normalised to 0–1 so one threshold means the same whatever the entry or the question.

BM25's raw score grows with the number and rarity of shared words, so a bare threshold on it
means something different for every entry. Two ratios fix that:

- entry coverage: the raw score over the entry's self-score (its own question scored against
  itself) — how much of what the entry is about the message mentions;
- message coverage: the raw score over the message's ideal score (each of its words matched
  once in an entry of average length; words no entry has count at the rarest weight) — how
  much of what the message asks the entry speaks to.

The score is their geometric mean, capped at 1. "When are you open?" covers little of "What are
your opening hours?" but all of itself is covered, so it still scores well; "Can I export to
Salesforce with custom fields?" shares "export" with a data-export entry but most of it is
unexplained, so it goes to a person. Pure (no ORM); `config.faq_index` caches one per FAQ state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from handoffs.triage.classify import Candidate
from handoffs.triage.text import words, wordset

K1 = 1.5
B = 0.75

# Words that say nothing about the topic of a question.
STOPWORDS = wordset(
    """
    a about above after again all also am an and any anyone anything are as at be been before
    being below between both but by can cant could did do does doing done dont each else for
    from get got had has have having he her here hers him his how hows i id if im in into is
    it its ive just know let lets like may me might more most much must my need no nor not now
    of off on once only or other our ours out over own please pls same shall she should so some
    still such tell than thank thanks that thats the their them then there these they thing
    things this those through to too under until up us very want was we were what whats when
    where wheres which while who whom whos why will with wondering would you youre your yours
    hi hello hey dear ok okay yes yeah sure one u ur r im plz thx usually
    """
)


def _stem(word: str) -> str:
    """A light suffix strip, the same on both sides: "hours" = "hour", "shipping" = "ship"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return _undouble(word[:-3])
    if len(word) > 4 and word.endswith("ed"):
        return word[:-1] if word.endswith(("ced", "ged")) else _undouble(word[:-2])
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _undouble(stem: str) -> str:
    """ "shipp" → "ship", "stopp" → "stop" (but "call", "pass" stay)."""
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    return stem


def faq_terms(text: str) -> list[str]:
    return [_stem(w) for w in words(text) if w not in STOPWORDS and not w.isdigit()]


@dataclass(frozen=True)
class FaqDoc:
    entry_id: int
    question: str
    answer: str
    keywords: str = ""


class FaqIndex:
    """Built once per FAQ state; `rank` costs a few microseconds per entry."""

    def __init__(self, docs: Iterable[FaqDoc]) -> None:
        self.docs = [d for d in docs if faq_terms(f"{d.question} {d.keywords}")]
        self._bm25 = None
        self._self_scores: list[float] = []
        if not self.docs:
            return
        import bm25s  # numpy only; imported on first use to keep start-up light

        corpus = [faq_terms(f"{d.question} {d.keywords}") for d in self.docs]
        self._bm25 = bm25s.BM25(k1=K1, b=B)
        self._bm25.index(corpus, show_progress=False)
        self._vocab = set(self._bm25.vocab_dict)
        self._idf = {t: self._term_idf(t) for t in self._vocab}
        for position, doc in enumerate(self.docs):
            own = self._scores(faq_terms(doc.question) or corpus[position])
            self._self_scores.append(float(own[position]) or 1.0)

    def _term_idf(self, term: str) -> float:
        n = len(self.docs)
        having = sum(1 for d in self.docs if term in faq_terms(f"{d.question} {d.keywords}"))
        return math.log(1 + (n - having + 0.5) / (having + 0.5))

    def _scores(self, terms: list[str]) -> Any:  # a numpy array
        known = list(dict.fromkeys(t for t in terms if t in self._vocab))
        assert self._bm25 is not None
        return self._bm25.get_scores(known)

    def rank(self, text: str, limit: int = 3) -> list[Candidate]:
        """The best entries for `text`, best first, with normalised scores (0–1)."""
        terms = list(dict.fromkeys(faq_terms(text)))
        if self._bm25 is None or not terms:
            return []
        if not any(t in self._vocab for t in terms):
            return []
        raw = self._scores(terms)
        rarest = math.log(1 + (len(self.docs) + 0.5) / 0.5)
        ideal = sum(self._idf.get(t, rarest) for t in terms)
        scored = []
        for position, doc in enumerate(self.docs):
            value = float(raw[position])
            if value <= 0:
                continue
            entry_cover = value / self._self_scores[position]
            message_cover = value / ideal
            score = min(1.0, math.sqrt(entry_cover * message_cover))
            scored.append(Candidate(doc.entry_id, doc.question, doc.answer, round(score, 3)))
        scored.sort(key=lambda c: (-c.score, c.entry_id))
        return scored[:limit]
