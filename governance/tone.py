"""Tone rules for automated and AI-drafted text: banned phrases, the required disclosure, and
promises (prices, discounts, dates, features) that only a person may make.

Pure functions: the engine checks a send with them, the approval flow shows their findings, and
the admin preview runs the same code over any text. A finding names its rule, its kind and the
words that triggered it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["banned", "disclosure", "promise"]
PromiseKind = Literal["price", "discount", "date", "feature"]

_MONEY = (
    r"(?:[£$€]\s?\d[\d,]*(?:\.\d{1,2})?(?:\s?[kKmM]\b)?"
    r"|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:GBP|USD|EUR|pounds|dollars|euros)\b)"
)
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)

# Built-in promise detectors. Ops add their own phrases per rule; these catch the common shapes.
PROMISE_PATTERNS: dict[PromiseKind, tuple[str, ...]] = {
    "price": (
        _MONEY,
        r"\bper (?:month|year|seat|user|licen[cs]e)\b",
    ),
    "discount": (
        r"\b\d{1,3}\s?%\s?(?:off|discount|cheaper|less)\b",
        r"\b(?:discount(?:ed)?|promo(?:tion)? code|coupon|voucher|half[- ]price|price match)\b",
        r"\bfree (?:of charge|upgrade|months?|trial extension|seats?)\b",
        r"\b(?:waive|waived|waiving) (?:the )?(?:fee|fees|charge|setup)\b",
    ),
    "date": (
        r"\bby (?:tomorrow|tonight|the end of (?:the|this|next) (?:day|week|month|quarter|year)|"
        r"end of (?:day|week|month)|(?:next )?" + _WEEKDAY + r")\b",
        r"\b(?:on|by|before|from) (?:the )?\d{1,2}(?:st|nd|rd|th)? (?:of )?" + _MONTH + r"\b",
        r"\b(?:on|by|before) " + _MONTH + r" \d{1,2}(?:st|nd|rd|th)?\b",
        r"\bwithin (?:\d+|one|two|three|a few|24|48) (?:hours?|days?|weeks?|business days?)\b",
        r"\b(?:will|we'll|it'll) (?:be )?(?:ship|shipped|deliver|delivered|live|ready|fixed|"
        r"arrive)\b",
    ),
    "feature": (
        r"\b(?:will|we'll|we will|it'll|it will) (?:soon )?(?:support|integrate|include|add|"
        r"have|be able to|offer)\b",
        r"\b(?:coming soon|on (?:our|the) roadmap|next release|upcoming feature|in the pipeline)\b",
        r"\b(?:we(?:'re| are) (?:building|adding|working on))\b",
    ),
}

_COMPILED: dict[PromiseKind, tuple[re.Pattern[str], ...]] = {
    kind: tuple(re.compile(p, re.IGNORECASE) for p in patterns)
    for kind, patterns in PROMISE_PATTERNS.items()
}


@dataclass(frozen=True)
class ToneRule:
    """One rule as ops wrote it. `phrases`: banned words/phrases (banned); accepted disclosure
    wordings, the first being the one appended (disclosure); extra promise phrases (promise).
    `promise_kinds` chooses which built-in detectors a promise rule runs."""

    name: str
    kind: Kind
    phrases: tuple[str, ...] = ()
    channels: frozenset[str] = frozenset()
    promise_kinds: frozenset[PromiseKind] = frozenset(PROMISE_PATTERNS)

    def applies_to(self, channel: str) -> bool:
        return not self.channels or channel in self.channels


@dataclass(frozen=True)
class Finding:
    rule: str
    kind: Kind
    detail: str
    excerpt: str = ""

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}" + (f" — ‘{self.excerpt}’" if self.excerpt else "")


@dataclass(frozen=True)
class ToneReport:
    text: str  # the text to send: with the disclosure appended where one was missing
    findings: tuple[Finding, ...] = field(default=())

    @property
    def blocked(self) -> bool:
        """A banned phrase: automation may not send this at all."""
        return any(f.kind == "banned" for f in self.findings)

    @property
    def needs_approval(self) -> bool:
        """A promise: a person approves, edits or rejects it first."""
        return any(f.kind == "promise" for f in self.findings)

    @property
    def clean(self) -> bool:
        return not self.blocked and not self.needs_approval

    def summary(self) -> str:
        return "; ".join(str(f) for f in self.findings)


def tone_check(*, text: str, channel: str, rules: Sequence[ToneRule]) -> ToneReport:
    """Check automated text against the rules for its channel. A missing disclosure is not a
    refusal: the rule's first wording is appended, and the finding records that it was."""
    findings: list[Finding] = []
    out = text
    for rule in rules:
        if not rule.applies_to(channel):
            continue
        if rule.kind == "banned":
            findings += _banned(rule, text)
        elif rule.kind == "promise":
            findings += _promises(rule, text)
        elif rule.kind == "disclosure" and rule.phrases and not _mentions_any(text, rule.phrases):
            out = f"{out.rstrip()}\n\n{rule.phrases[0]}"
            findings.append(Finding(rule.name, "disclosure", "disclosure added", rule.phrases[0]))
    return ToneReport(text=out, findings=tuple(findings))


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def _mentions_any(text: str, phrases: Sequence[str]) -> bool:
    return any(_phrase_pattern(p).search(text) for p in phrases if p.strip())


def _banned(rule: ToneRule, text: str) -> list[Finding]:
    found = []
    for phrase in rule.phrases:
        match = _phrase_pattern(phrase).search(text) if phrase.strip() else None
        if match:
            found.append(Finding(rule.name, "banned", "banned phrase", match.group(0)))
    return found


def _promises(rule: ToneRule, text: str) -> list[Finding]:
    found: list[Finding] = []
    seen: set[str] = set()
    for kind in sorted(rule.promise_kinds):
        for pattern in _COMPILED[kind]:
            match = pattern.search(text)
            if match and match.group(0).lower() not in seen:
                seen.add(match.group(0).lower())
                found.append(Finding(rule.name, "promise", f"{kind} promise", match.group(0)))
                break  # one finding per kind is enough to send it for approval
    for phrase in rule.phrases:
        match = _phrase_pattern(phrase).search(text) if phrase.strip() else None
        if match and match.group(0).lower() not in seen:
            seen.add(match.group(0).lower())
            found.append(Finding(rule.name, "promise", "promise phrase", match.group(0)))
    return found
