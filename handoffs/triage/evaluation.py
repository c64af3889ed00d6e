"""Scoring triage's "needs a human" decision against hand-labelled sets
(tests/eval/triage_messages.jsonl, tuned on; tests/eval/triage_holdout.jsonl, never tuned on;
`manage.py evaluate_triage`). Pure: the decision function comes in as an argument.

`high_value` rows need a human for their size (budget, seats), which the text rules do not
judge: they are left out of precision and recall and reported on their own.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from handoffs.triage.classify import Decision

OUT_OF_SCOPE = "high_value"


@dataclass(frozen=True)
class Labelled:
    id: str
    text: str
    channel: str
    needs_human: bool
    label: str


@dataclass(frozen=True)
class Outcome:
    row: Labelled
    decision: Decision

    @property
    def right(self) -> bool:
        return self.decision.needs_human == self.row.needs_human


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    out_of_scope: list[Outcome] = field(default_factory=list)

    def count(self, wanted: bool, decided: bool) -> int:
        """Rows whose hand label says `wanted` and triage said `decided` (needs a person)."""
        return sum(
            1
            for o in self.outcomes
            if o.row.needs_human is wanted and o.decision.needs_human is decided
        )

    @property
    def precision(self) -> float:
        flagged = self.count(True, True) + self.count(False, True)
        return self.count(True, True) / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        wanted = self.count(True, True) + self.count(True, False)
        return self.count(True, True) / wanted if wanted else 0.0

    def confusion(self) -> dict[str, Counter[str]]:
        """Gold label → how many got each triage label."""
        table: dict[str, Counter[str]] = {}
        for o in [*self.outcomes, *self.out_of_scope]:
            table.setdefault(o.row.label, Counter())[o.decision.label] += 1
        return table

    @property
    def wrong(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.right]


def read_labelled(path: Path) -> list[Labelled]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        try:
            rows.append(
                Labelled(
                    id=str(data["id"]),
                    text=str(data["text"]),
                    channel=str(data.get("channel", "")),
                    needs_human=bool(data["needs_human"]),
                    label=str(data["label"]),
                )
            )
        except KeyError as exc:
            raise ValueError(f"{path}:{number}: missing {exc}") from exc
    return rows


def evaluate(rows: Iterable[Labelled], decide: Callable[[str], Decision]) -> Report:
    report = Report()
    for row in rows:
        outcome = Outcome(row=row, decision=decide(row.text))
        (report.out_of_scope if row.label == OUT_OF_SCOPE else report.outcomes).append(outcome)
    return report
