"""Phrase patterns: how one line ops write covers a family of sentences. Pure Python.

A pattern is words separated by spaces, read like a phrase, with two extras:

- `a|b|c` — any one of these words in this place: `stop|quit|cease texting|messaging`;
- `*` — up to three words of anything in between: `take * off * list` matches "take me off
  your mailing list";
- `"word"` in double quotes — this form only: `"charged"` is not "charge" or "charges".

Every word matches its inflected forms ("text" = "texts" = "texting" = "texted") and letters
doubled or held ("stopp" = "stop", "soooo" = "so"), on top of what `text.words` already evens
out (case, apostrophes, txt-speak, "do not" = "dont"). A plain phrase is simply a pattern
with neither extra, so the lists ops wrote before patterns existed keep working.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

from handoffs.triage.text import FILLER, NEGATIONS, is_emoji, words, wordset

GAP_WORDS = 3  # what `*` may skip
# Words that may stand between a negation and what it turns round ("not *really* angry").
SOFTENERS = wordset(
    "really very so that too overly particularly exactly actually even totally entirely quite "
    "remotely terribly super all im am being feeling a an the at in"
)
MAX_SLOTS = 12


class PatternError(ValueError):
    """A phrase that cannot be read as a pattern; the message is for ops."""


_RUNS = re.compile(r"(.)\1+")


@cache
def key(token: str) -> str:
    """What a word is compared by: the word without its inflection (plural, -ed, -ing, a final
    e), with doubled letters single. Only inflection: "customer" stays apart from "custom",
    "cancellation" from "cancel". The keys need not be words, only the same for each form:
    "charge" = "charges" = "charged" = "charging" = "charg"; "stopp" = "stopped" = "stop"."""
    if is_emoji(token) or not token.isalpha() or len(token) <= 3:
        return token  # "sso" is not "so"
    word = token
    if word.endswith(("ies", "ied")) and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ing") and len(word) >= 6:
        word = word[:-3]
    elif (word.endswith("ed") and len(word) >= 5) or word.endswith(("xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    return _RUNS.sub(r"\1", word)


EXACT = "="  # a key that starts with it is compared with the word's exact form


def exact_key(token: str) -> str:
    return EXACT + (_RUNS.sub(r"\1", token) if len(token) > 3 else token)


Alternative = tuple[str, ...]  # keys; txt-speak may make one written word several


@dataclass(frozen=True)
class Slot:
    """One place in a pattern: any of `alternatives`, or (gap) up to GAP_WORDS of anything."""

    alternatives: tuple[Alternative, ...] = ()
    gap: bool = False


@dataclass(frozen=True)
class Pattern:
    text: str  # as written
    slots: tuple[Slot, ...]

    def find(self, words: Words, start: int = 0, *, whole: bool = False) -> tuple[int, int] | None:
        """The (begin, end) of the first match in `words` at or after `start`, or None.
        `whole`: the match must cover `words` from first to last."""
        size = len(words.keys)
        for begin in [0] if whole else range(start, size):
            for end in self._ends(words, begin, 0):
                if not whole or end == size:
                    return begin, end
        return None

    def _ends(self, words: Words, at: int, slot: int) -> Iterator[int]:
        if slot == len(self.slots):
            yield at
            return
        current = self.slots[slot]
        if current.gap:
            for skip in range(min(GAP_WORDS, len(words.keys) - at) + 1):
                yield from self._ends(words, at + skip, slot + 1)
            return
        for alternative in current.alternatives:
            if words.has(alternative, at):
                yield from self._ends(words, at + len(alternative), slot + 1)

    @property
    def first_keys(self) -> frozenset[str]:
        """The keys a match must start with (a pattern starts with a word, never a gap)."""
        return frozenset(alternative[0] for alternative in self.slots[0].alternatives)

    def known_words(self) -> Iterator[str]:
        """The (inflection-free) words it names, for the speller."""
        for slot in self.slots:
            for alternative in slot.alternatives:
                yield from (k for k in alternative if not k.startswith(EXACT))

    @property
    def size(self) -> int:
        """How specific it is: the number of word places (longer patterns are quoted first)."""
        return sum(1 for s in self.slots if not s.gap)


def compile_pattern(text: str) -> Pattern:
    """Read a phrase as ops wrote it; raises PatternError with a message for the admin form."""
    slots: list[Slot] = []
    plain: list[str] = []  # plain words are read together: "do not" = "dont", as in messages

    def flush() -> None:
        slots.extend(Slot(alternatives=((key(t),),)) for t in words(" ".join(plain)))
        plain.clear()

    for part in text.split():
        if part in ("*", "…", "..."):
            flush()
            if not slots:
                raise PatternError("A pattern cannot start with “*”: put a word first.")
            if slots[-1].gap:
                raise PatternError("Write “*” once between two words (it already skips three).")
            slots.append(Slot(gap=True))
            continue
        if "|" not in part and not part.startswith(('"', "“")):
            plain.append(part)
            continue
        flush()
        alternatives = []
        for written in part.split("|"):
            if not written.strip():
                raise PatternError(f"“{part}”: an empty choice around “|”.")
            exact = len(written) > 2 and written[0] in '"“' and written[-1] in '"”'
            tokens = words(written)
            if tokens:  # punctuation alone ("—", "!") is not a word
                alternatives.append(tuple((exact_key if exact else key)(t) for t in tokens))
        if alternatives:
            slots.append(Slot(alternatives=tuple(dict.fromkeys(alternatives))))
    flush()
    if slots and slots[-1].gap:
        raise PatternError("A pattern cannot end with “*”: put a word last.")
    if not slots:
        raise PatternError("A phrase needs at least one word.")
    if len(slots) > MAX_SLOTS:
        raise PatternError(f"Keep a pattern to {MAX_SLOTS} places or fewer.")
    return Pattern(text=" ".join(text.split()), slots=tuple(slots))


@dataclass(frozen=True)
class Words:
    """A run of a message's words, keyed both ways (inflection-free and exact)."""

    keys: tuple[str, ...]
    exact: tuple[str, ...]

    def has(self, alternative: Alternative, at: int) -> bool:
        if at + len(alternative) > len(self.keys):
            return False
        return all(
            (self.exact if k.startswith(EXACT) else self.keys)[at + n] == k
            for n, k in enumerate(alternative)
        )

    def __getitem__(self, part: slice) -> Words:
        return Words(keys=self.keys[part], exact=self.exact[part])


class Speller:
    """Mends one slip of the keyboard in a word the patterns know ("unsubcribe", "recieve",
    "understnad"), so a typo does not hide an opt-out. Careful by design: only words of seven
    letters or more ("broker" stays "broker") that no pattern knows as they are, keeping the
    first letter, one letter added, dropped, changed or two swapped, and only when exactly one
    known word is that close. Adverbs are left alone ("terribly sorry" is not "terrible").
    Doubled letters ("dissapointed") are already evened out by `key`."""

    MIN_LETTERS = 7

    def __init__(self, known: Iterable[str]) -> None:
        self.known = frozenset(known)
        self._near: dict[str, set[str]] = {}
        for word in self.known:
            if len(word) >= self.MIN_LETTERS - 2 and word.isalpha():
                for variant in (word, *_deletions(word)):
                    self._near.setdefault(variant, set()).add(word)

    def mend(self, token: str, keyed: str) -> str:
        if (
            keyed in self.known
            or len(token) < self.MIN_LETTERS
            or len(keyed) < self.MIN_LETTERS - 1
            or not token.isalpha()
            or token.endswith("ly")
        ):
            return keyed
        found: set[str] = set()
        for variant in (keyed, *_deletions(keyed)):
            found |= self._near.get(variant, set())
        found = {w for w in found if w[0] == keyed[0]}
        return found.pop() if len(found) == 1 else keyed


def _deletions(word: str) -> list[str]:
    return [word[:n] + word[n + 1 :] for n in range(len(word))]


@dataclass(frozen=True)
class Message:
    """A message read once for all patterns: its words and their keys."""

    tokens: tuple[str, ...]
    words: Words

    @classmethod
    def read(cls, text: str, speller: Speller | None = None) -> Message:
        tokens = words(text)
        keys = tuple(key(t) for t in tokens)
        if speller is not None:
            keys = tuple(speller.mend(t, k) for t, k in zip(tokens, keys, strict=True))
        exact = tuple(exact_key(t) for t in tokens)
        return cls(tokens=tokens, words=Words(keys=keys, exact=exact))

    def find(self, pattern: Pattern, *, whole_message: bool, negatable: bool) -> str | None:
        """The words the pattern matched (for the evidence), or None. A whole-message pattern
        must be all of the message, courtesy words and emoji aside ("STOP", "stop please 🛑").
        A `negatable` one does not count right after a negation ("not angry, just…")."""
        if whole_message:
            first, last = 0, len(self.tokens)
            while first < last and _courtesy(self.tokens[first]):
                first += 1
            while last > first and _courtesy(self.tokens[last - 1]):
                last -= 1
            span = pattern.find(self.words[first:last], whole=True)
            return " ".join(self.tokens[first:last]) if span else None
        start = 0
        while (span := pattern.find(self.words, start)) is not None:
            begin, end = span
            if not (negatable and self.negated(begin)):
                return " ".join(self.tokens[begin:end])
            start = begin + 1
        return None

    @property
    def all_keys(self) -> frozenset[str]:
        """Every key of the message, both ways: which patterns could start here."""
        return frozenset(self.words.keys) | frozenset(self.words.exact)

    def negated(self, at: int) -> bool:
        """A negation right before the word, or two before across a softener: "not angry",
        "not really angry", "im not that interested" — but not "Not interested. Useless"."""
        before = self.tokens[max(0, at - 2) : at]
        if before and before[-1] in NEGATIONS:
            return True
        return len(before) == 2 and before[0] in NEGATIONS and before[1] in SOFTENERS


def _courtesy(token: str) -> bool:
    return token in FILLER or is_emoji(token)
