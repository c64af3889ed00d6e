"""`manage.py evaluate_triage [--file tests/eval/triage_messages.jsonl]`: how well triage's
"needs a human" decision matches a hand-labelled set (docs/triage.md).

Uses the phrases and thresholds in the database (the defaults after migrations) and the approved
FAQ entries — or, when none is approved yet, the starter FAQ that `seed_demo` loads — so it
works on a database that is only migrated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoffs.triage.classify import Decision, triage_decide
from handoffs.triage.config import faq_index, phrasebook, thresholds_of, triage_settings
from handoffs.triage.evaluation import Labelled, Report, evaluate, read_labelled

DEFAULT_FILE = "tests/eval/triage_messages.jsonl"
TARGET_RECALL = 0.95
TARGET_PRECISION = 0.85


class Command(BaseCommand):
    help = "Precision and recall of triage's 'needs a human' decision on a labelled set."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", default=DEFAULT_FILE, help="JSON lines: id, text, ...")
        parser.add_argument(
            "--half",
            choices=["all", "odd", "even"],
            default="all",
            help="Only rows whose id number is odd or even (tune on one, check on the other).",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help=f"Fail unless recall ≥ {TARGET_RECALL} and precision ≥ {TARGET_PRECISION}.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(f"No such file: {path}")
        try:
            rows = [r for r in read_labelled(path) if _in_half(r, options["half"])]
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        row = triage_settings()
        thresholds, phrases = thresholds_of(row), phrasebook()
        index = faq_index(fallback=True)

        def decide(text: str) -> Decision:
            return triage_decide(text, phrases=phrases, thresholds=thresholds, rank=index.rank)

        report = evaluate(rows, decide)
        self._print(report, path, len(index.docs))
        if options["check"] and not (
            report.recall >= TARGET_RECALL and report.precision >= TARGET_PRECISION
        ):
            raise CommandError(
                f"below target: recall {report.recall:.3f} (≥ {TARGET_RECALL}), "
                f"precision {report.precision:.3f} (≥ {TARGET_PRECISION})"
            )

    def _print(self, report: Report, path: Path, faq_size: int) -> None:
        out = self.stdout.write
        scored = len(report.outcomes)
        out(f"{path}: {scored} messages scored, {len(report.out_of_scope)} high_value apart")
        out(f"FAQ entries ranked against: {faq_size}")
        out("")
        out("label             n  " + "  ".join(f"{c[:8]:>8}" for c in _columns(report)))
        for label, counts in sorted(report.confusion().items()):
            cells = "  ".join(f"{counts.get(c, 0):>8}" for c in _columns(report))
            out(f"{label:<16}{sum(counts.values()):>3}  {cells}")
        out("")
        flagged = sum(1 for o in report.out_of_scope if o.decision.needs_human)
        out(
            f"high_value (size, not text): {flagged} of {len(report.out_of_scope)} "
            "flagged by the text rules"
        )
        out("")
        out(f"Misclassified ({len(report.wrong)}):")
        for o in report.wrong:
            d = o.decision
            why = d.phrase or (
                f"faq {d.candidates[0].score:.2f}" if d.candidates else f"vader {d.sentiment:+.2f}"
            )
            want = "human" if o.row.needs_human else "bot"
            out(f"  {o.row.id:<6} want {want:<5} {o.row.label:<16} got {d.label:<9} {why[:28]:<28}")
            out(f"         {o.row.text[:110]}")
        out("")
        out(
            f"needs a human: precision {report.precision:.3f}  recall {report.recall:.3f}  "
            f"(target recall ≥ {TARGET_RECALL} at precision ≥ {TARGET_PRECISION})"
        )


def _columns(report: Report) -> list[str]:
    seen = {label for counts in report.confusion().values() for label in counts}
    order = ["angry", "confused", "opt_out", "question", "faq", "positive", "routine", "error"]
    return [c for c in order if c in seen]


def _in_half(row: Labelled, half: str) -> bool:
    if half == "all":
        return True
    digits = "".join(ch for ch in row.id if ch.isdigit())
    odd = bool(digits) and int(digits) % 2 == 1
    return odd if half == "odd" else not odd
