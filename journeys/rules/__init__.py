"""The safe condition language and reason templates for handoff rules.

Ops staff write rules as data (JSON), never as code, so this module is the only thing that
decides what a rule means. It is pure Python on purpose: no Django, no ORM, no eval/exec and no
regular expressions built from user input, so a rule can never run code, hit the database or
hang the worker. Validation (``condition_errors``/``template_errors``) runs when a rule is saved
and never raises; evaluation (``condition_matches``/``template_render``) runs for every signal
and never raises either, because one odd signal must not stop the pipeline. See docs/rules.md.
Journey templates and branch conditions use the same language over a different document, so
validation takes the set of allowed paths (``SIGNAL_PATHS`` by default, ``JOURNEY_PATHS``).

The package: `paths` (which paths a document offers, looking them up, showing values),
`conditions` (the condition language) and `templates` (reason/message templates).
"""

from journeys.rules.conditions import (
    MAX_DEPTH,
    MAX_LIST_ITEMS,
    MAX_NODES,
    OPERATORS,
    RATES_KEY,
    condition_errors,
    condition_explain,
    condition_matches,
    condition_uses_currency,
)
from journeys.rules.paths import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    JOURNEY_CONTACT_FIELDS,
    JOURNEY_PATHS,
    JOURNEY_PATHS_HELP,
    KNOWN_PATHS_HELP,
    MAX_STRING,
    SIGNAL_PATHS,
    PathRules,
    format_value,
    path_get,
)
from journeys.rules.templates import (
    MAX_TEMPLATE,
    template_errors,
    template_paths,
    template_render,
)

__all__ = [
    "ACCOUNT_FIELDS",
    "CONTACT_FIELDS",
    "JOURNEY_CONTACT_FIELDS",
    "JOURNEY_PATHS",
    "JOURNEY_PATHS_HELP",
    "KNOWN_PATHS_HELP",
    "MAX_DEPTH",
    "MAX_LIST_ITEMS",
    "MAX_NODES",
    "MAX_STRING",
    "MAX_TEMPLATE",
    "OPERATORS",
    "RATES_KEY",
    "SIGNAL_PATHS",
    "PathRules",
    "condition_errors",
    "condition_explain",
    "condition_matches",
    "condition_uses_currency",
    "format_value",
    "path_get",
    "template_errors",
    "template_paths",
    "template_render",
]
