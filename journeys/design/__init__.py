"""Why a journey definition cannot run, said in words the ops person who wrote it understands.

A definition is data edited in admin (docs/journeys.md); publishing one that the runner would
choke on strands every contact enrolled in it, so every problem is found here, on save, each
message naming the step (or stage) and the setting. Pure Python like journeys/rules/: no
Django, no ORM, and `definition_errors` never raises, whatever JSON it is handed.

The package: `schema` (what a definition may say, shared helpers), `definition` (its
shape, stages and steps), `config` (each step's config) and `reachability`.
"""

from journeys.design.definition import definition_errors
from journeys.design.schema import (
    CHANNELS,
    CONFIG_KEYS,
    DEFINITION_HELP,
    EXPECTS,
    LOOP_STAGES,
    MAX_MINUTES,
    MAX_NAME,
    MAX_SIGNAL_TYPE,
    MAX_STAGES,
    MAX_STEPS,
    MODES,
    OUTCOMES,
    PRIORITIES,
    QUESTION_PLACEHOLDER,
    ROLES,
    SETTABLE_FIELDS,
    SLUG_HELP,
    STEP_KINDS,
    STEP_REFERENCES,
    TRIGGERS,
    Add,
)

__all__ = [
    "CHANNELS",
    "CONFIG_KEYS",
    "DEFINITION_HELP",
    "EXPECTS",
    "LOOP_STAGES",
    "MAX_MINUTES",
    "MAX_NAME",
    "MAX_SIGNAL_TYPE",
    "MAX_STAGES",
    "MAX_STEPS",
    "MODES",
    "OUTCOMES",
    "PRIORITIES",
    "QUESTION_PLACEHOLDER",
    "ROLES",
    "SETTABLE_FIELDS",
    "SLUG_HELP",
    "STEP_KINDS",
    "STEP_REFERENCES",
    "TRIGGERS",
    "Add",
    "definition_errors",
]
