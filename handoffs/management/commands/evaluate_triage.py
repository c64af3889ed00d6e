"""`manage.py evaluate_triage [--file …] [--half odd|even] [--holdout [PATH]] [--check]`: how
well triage's "needs a human" decision matches hand-labelled sets (docs/triage.md).

Uses the phrases and thresholds in the database (the defaults after migrations) and the approved
FAQ entries — or, when none is approved yet, the starter FAQ that `seed_demo` loads — so it
works on a database that is only migrated.

The main set (`--file`, tuned on) gets the full report, every wrong line included. The
held-out set (`--holdout`, never tuned on: tests/eval/README.md) gets its confusion table and
figures; its individual errors are listed only with `--holdout-errors`, for a final look
after tuning is over. `--check` judges the main set only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoffs.triage.classify import Decision, triage_decide
from handoffs.triage.config import faq_index, phrasebook, thresholds_of, triage_settings
from handoffs.triage.evaluation import Labelled, Report, evaluate, read_labelled

DEFAULT_FILE = "tests/eval/triage_messages.jsonl"
HOLDOUT_FILE = "tests/eval/triage_holdout.jsonl"
TARGET_RECALL = 0.95
TARGET_PRECISION = 0.85


class Command(BaseCommand):
    help = "Precision and recall of triage's 'needs a human' decision on labelled sets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", default=DEFAULT_FILE, help="JSON lines: id, text, ...")
        parser.add_argument(
            "--half",
            choices=["all", "odd", "even"],
            default="all",
            help="Only rows of --file whose id number is odd or even.",
        )
        parser.add_argument(
            "--holdout",
            nargs="?",
            const=HOLDOUT_FILE,
            default=None,
            metavar="PATH",
            help=f"Also report on the held-out set (default {HOLDOUT_FILE}). Never tune on it.",
        )
        parser.add_argument(
            "--holdout-errors",
            action="store_true",
            help="List the held-out set's wrong lines too (for a last look, not for tuning).",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help=f"Fail unless recall ≥ {TARGET_RECALL} and precision ≥ {TARGET_PRECISION} "
            "on --file (the held-out figures are reported, not checked).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        main = _read(Path(options["file"]), options["half"])
        holdout_path = Path(options["holdout"]) if options["holdout"] else None
        holdout = _read(holdout_path, "all") if holdout_path else None
        row = triage_settings()
        thresholds, phrases = thresholds_of(row), phrasebook()
        index = faq_index(fallback=True)

        def decide(text: str) -> Decision:
            return triage_decide(text, phrases=phrases, thresholds=thresholds, rank=index.rank)

        self.stdout.write(f"FAQ entries ranked against: {len(index.docs)}")
        report = evaluate(main, decide)
        self._print(report, Path(options["file"]), errors=True)
        summary = [(f"{options['file']}" + _half_note(options["half"]), report)]
        if holdout is not None and holdout_path is not None:
            held = evaluate(holdout, decide)
            self._print(held, holdout_path, errors=options["holdout_errors"], held_out=True)
            summary.append((f"{holdout_path} (held out)", held))
        self._summary(summary)
        if options["check"] and not (
            report.recall >= TARGET_RECALL and report.precision >= TARGET_PRECISION
        ):
            raise CommandError(
                f"below target: recall {report.recall:.3f} (≥ {TARGET_RECALL}), "
                f"precision {report.precision:.3f} (≥ {TARGET_PRECISION})"
            )

    def _print(self, report: Report, path: Path, *, errors: bool, held_out: bool = False) -> None:
        out = self.stdout.write
        scored = len(report.outcomes)
        out("")
        out(f"== {path}{' (held out: never tune on it)' if held_out else ''}")
        out(f"{scored} messages scored, {len(report.out_of_scope)} high_value apart")
        out("")
        columns = _columns(report)
        out("label             n  " + "  ".join(f"{c[:8]:>8}" for c in columns))
        for label, counts in sorted(report.confusion().items()):
            cells = "  ".join(f"{counts.get(c, 0):>8}" for c in columns)
            out(f"{label:<16}{sum(counts.values()):>3}  {cells}")
        out("")
        out(
            f"needs a person (rows) vs triage said so (columns): "
            f"TP {report.count(True, True)}  FN {report.count(True, False)}  "
            f"FP {report.count(False, True)}  TN {report.count(False, False)}"
        )
        flagged = sum(1 for o in report.out_of_scope if o.decision.needs_human)
        out(
            f"high_value (size, not text): {flagged} of {len(report.out_of_scope)} "
            "flagged by the text rules"
        )
        out("")
        if errors:
            out(f"Misclassified ({len(report.wrong)}):")
            for o in report.wrong:
                d = o.decision
                why = (
                    d.matched
                    or d.phrase
                    or (
                        f"faq {d.candidates[0].score:.2f}"
                        if d.candidates
                        else f"vader {d.sentiment:+.2f}"
                    )
                )
                want = "human" if o.row.needs_human else "bot"
                out(
                    f"  {o.row.id:<6} want {want:<5} {o.row.label:<16} got {d.label:<9} "
                    f"{why[:28]:<28}"
                )
                out(f"         {o.row.text[:110]}")
        else:
            out(f"Misclassified: {len(report.wrong)} (listed with --holdout-errors)")
        out("")
        out(
            f"needs a human: precision {report.precision:.3f}  recall {report.recall:.3f}  "
            f"(target recall ≥ {TARGET_RECALL} at precision ≥ {TARGET_PRECISION})"
        )

    def _summary(self, rows: list[tuple[str, Report]]) -> None:
        if len(rows) < 2:
            return
        out = self.stdout.write
        out("")
        out("Summary (needs a human, high_value apart)")
        for name, report in rows:
            out(
                f"  {name:<48} precision {report.precision:.3f}  recall {report.recall:.3f}  "
                f"n {len(report.outcomes)}"
            )


def _read(path: Path, half: str) -> list[Labelled]:
    if not path.exists():
        raise CommandError(f"No such file: {path}")
    try:
        return [r for r in read_labelled(path) if _in_half(r, half)]
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _half_note(half: str) -> str:
    return "" if half == "all" else f" ({half} ids)"


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
