"""What a journey definition may say (step kinds, config keys, choices, limits, the help text)
and the small helpers every check shares.

The checks themselves are in `definition` (shape, stages, steps), `config` and `reachability`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from journeys import rules
from journeys.rules import JOURNEY_PATHS_HELP

MAX_STEPS = 200
MAX_STAGES = 50
MAX_MINUTES = 525_600  # a year: anything longer is a typo, not a plan
MAX_NAME = 100  # Journey.name and Stage.name columns
MAX_SIGNAL_TYPE = 64  # Signal.type column
SLUG_HELP = "a-z, 0-9, _ and -, 1 to 50 characters"
_SLUG = re.compile(r"[a-z0-9_-]{1,50}")

# Plain tuples mirroring the TextChoices (journeys/choices.py, handoffs/choices.py,
# portal/choices.py): importing those would pull in Django. A test keeps them in step.
LOOP_STAGES = ("acquire", "onboard", "adopt", "expand", "renew")
MODES = ("automation", "human", "hybrid")
CHANNELS = ("auto", "email", "sms", "whatsapp", "chat")
EXPECTS = ("yes_no", "number", "years", "weeks", "text")
PRIORITIES = ("low", "normal", "high", "urgent")
TRIGGERS = ("qualification", "stage", "manual")
OUTCOMES = ("completed", "dropped")
ROLES = ("rep", "csm", "lead", "director", "leader", "ops")
SETTABLE_FIELDS = (
    "contact.name",
    "contact.email",
    "contact.phone",
    "contact.timezone",
    "account.name",
)

STEP_KINDS: dict[str, str] = {
    "send_message": "Send an automated message from a template on a channel, then go on.",
    "wait": "Wait for a reply, a signal or a number of minutes, then go on.",
    "branch": "Pick the next step (then / else) by a condition on the journey document.",
    "ask": "Ask a question, store the answer as answers.<field> and route on whether it passes.",
    "handoff": "Hand the contact to a team and pause until a person resumes automation.",
    "update_fields": "Set contact or account fields from templates.",
    "advance_stage": "Move the enrollment to another stage of this journey.",
    "end": "End the enrollment as completed or dropped.",
}

# kind -> {config key: required}. Keys the docs mark optional (or give a default) are optional,
# and so is `next`: without it a step goes on to the following step in `steps`. A wait may have
# a `next` too (not in the docs' table): the runner sends an exit without its own target there.
CONFIG_KEYS: dict[str, dict[str, bool]] = {
    "send_message": {
        "channel": True,
        "template": True,
        "subject": False,
        "disclose": False,
        "next": False,
    },
    "wait": {
        "minutes": False,
        "until": False,
        "on_event": False,
        "on_timeout": False,
        "next": False,
    },
    "branch": {"condition": True, "then": True, "else": True},
    "ask": {
        "channel": True,
        "question": True,
        "subject": False,
        "field": True,
        "expect": True,
        "pass": False,
        "on_fail": False,
        "next": False,
        "timeout_minutes": False,
        "on_timeout": False,
        "retry_prompt": False,
    },
    "handoff": {
        "team": False,
        "role": False,
        "priority": True,
        "trigger": True,
        "reason": True,
        "sla_minutes": False,
        "next": False,
    },
    "update_fields": {"set": True, "next": False},
    "advance_stage": {"stage": True, "next": False},
    "end": {"outcome": True},
}
QUESTION_PLACEHOLDER = "{question}"  # in a retry_prompt: the question, asked again
STEP_REFERENCES = ("next", "on_fail", "on_timeout", "on_event", "then", "else")

DEFINITION_HELP = (
    "A journey is a list of stages (key, name, loop_stage) and a list of steps. Each step has a "
    "key, the stage it belongs to, a kind (" + ", ".join(STEP_KINDS) + "), a mode (automation, "
    "human or hybrid), a team (needed by handoff and human steps) and a config for its kind. "
    "Steps run in list order unless next, then/else or on_* names another step; every step "
    "must be reachable from the start. Templates and conditions may use "
    f"{JOURNEY_PATHS_HELP}. See docs/journeys.md."
)

_TOP_KEYS = ("name", "start", "stages", "steps")
_STAGE_KEYS = ("key", "name", "loop_stage", "id")  # id: the Stage row, when published
_STEP_KEYS = ("key", "stage", "kind", "mode", "team", "config")
_NUMBERS_ONLY = (">", ">=", "<", "<=")
_TEXT_ONLY = ("contains", "icontains", "starts_with", "ends_with")
# Which pass tests make sense for each kind of parsed answer (journeys/answers/).
_EXPECT_OPS = {
    "yes_no": ("==", "!=", "exists"),
    **dict.fromkeys(
        ("number", "years", "weeks"), tuple(op for op in rules.OPERATORS if op not in _TEXT_ONLY)
    ),
    "text": tuple(op for op in rules.OPERATORS if op not in _NUMBERS_ONLY),
}


Add = Callable[[str], None]


def _shown(value: object) -> str:
    """A short, safe rendering of untrusted input for a message (never a huge or deep repr)."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"{value[:40]!r}…"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**15 else "a huge number"
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return "null"
    return "a list" if isinstance(value, list | tuple) else "an object"


def _listed(values: Collection[str], limit: int = 20) -> str:
    shown = sorted(values)
    more = f", … ({len(shown) - limit} more)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


def _is_slug(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _SLUG.fullmatch(value) is not None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _choice_error(value: object, choices: Collection[str], label: str) -> str | None:
    if isinstance(value, str) and value in choices:
        return None
    if not isinstance(value, str):
        return f"{label} must be one of {', '.join(choices)}, got {_shown(value)}"
    return f"{label} {_shown(value)} is not one of {', '.join(choices)}"


@dataclass(frozen=True)
class _Context:
    """What every step check needs to know about the rest of the definition."""

    steps: Mapping[str, int]  # step key -> position of its first use
    stages: frozenset[str]
    fields: frozenset[str]  # what ask steps store as answers.<field>
    teams: frozenset[str] | None
    signal_types: frozenset[str] | None


def _label(noun: str, item: object, positions: Mapping[str, int], position: int) -> str:
    """`step 'ask_visa'`, or `step #3` when the key cannot name it (missing, bad or a repeat)."""
    key = item.get("key") if isinstance(item, Mapping) else None
    if _is_slug(key) and positions[key] == position:
        return f"{noun} {key!r}"
    return f"{noun} #{position + 1}"


def _unknown_keys(item: Mapping[Any, Any], allowed: tuple[str, ...], add: Add) -> None:
    for key in item:
        if key not in allowed:
            add(f"unknown key {_shown(key)} (allowed: {', '.join(allowed)})")
