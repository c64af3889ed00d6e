"""What the runner reads and hands back: the definition's steps indexed, config values read
tolerantly, and the `Action`s and `Outcome` the service layer applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

ActionKind = Literal["send", "raise_handoff", "set_fields", "set_stage", "log"]
Status = Literal["active", "paused_for_human", "completed", "dropped"]

DISCLOSURE = "\n\n— Baton assistant (automated message)"
DEFAULT_RETRY_PROMPT = "Sorry, I didn't catch that. {question}"
STEP_BUDGET = 100  # steps entered in one call before the loop guard hands over to a person
MAX_WAIT_MINUTES = 10 * 366 * 24 * 60  # longer waits are clamped so date arithmetic cannot fail
END_OUTCOMES = frozenset({"completed", "dropped"})


@dataclass(frozen=True)
class Action:
    """One thing the service layer must do, in order."""

    kind: ActionKind
    data: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    state: dict[str, Any]
    actions: list[Action]
    status: Status
    due_at: datetime | None
    waiting_for: str | None


@dataclass
class _Definition:
    """The definition's steps, indexed; tolerant of malformed entries (they are skipped)."""

    steps: dict[str, Mapping[str, Any]]
    order: list[str]
    start: str | None

    @classmethod
    def read(cls, definition: Mapping[str, Any]) -> _Definition:
        raw = definition.get("steps") if isinstance(definition, Mapping) else None
        steps: dict[str, Mapping[str, Any]] = {}
        order: list[str] = []
        for step in raw if isinstance(raw, list) else []:
            if isinstance(step, Mapping) and isinstance(step.get("key"), str):
                if step["key"] not in steps:
                    order.append(step["key"])
                steps.setdefault(step["key"], step)
        start = definition.get("start") if isinstance(definition, Mapping) else None
        if not isinstance(start, str) or not start:
            start = order[0] if order else None
        return cls(steps, order, start)

    def following(self, key: str) -> str | None:
        """The step after `key` in `steps` order; None past the last one (journey completed)."""
        index = self.order.index(key) if key in self.order else len(self.order)
        return self.order[index + 1] if index + 1 < len(self.order) else None


def _config(step: Mapping[str, Any] | None) -> Mapping[str, Any]:
    config = step.get("config") if step else None
    return config if isinstance(config, Mapping) else {}


def _target(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def waits_heard(definition: Mapping[str, Any]) -> frozenset[str]:
    """Everything a step of `definition` can wait for: the signal types its waits name, and
    "reply" for a question or a wait until a reply. An enrollment hears nothing else, whatever
    step it is at."""
    heard: set[str] = set()
    for step in _Definition.read(definition).steps.values():
        if step.get("kind") == "ask":
            heard.add("reply")
        elif step.get("kind") == "wait" and (until := _target(_config(step).get("until"))):
            heard.add(until)
    return frozenset(heard)


def _minutes(value: object) -> timedelta | None:
    """A wait length from config: a positive number of minutes, else None (no timer)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return timedelta(minutes=min(value, MAX_WAIT_MINUTES))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
