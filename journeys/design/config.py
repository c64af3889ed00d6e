"""The checks of a step's config: its keys for the step's kind, one check per key, and the
rules that tie keys together (wait exits, ask routes, an ask's pass test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from journeys import rules
from journeys.design.schema import (
    _EXPECT_OPS,
    CHANNELS,
    CONFIG_KEYS,
    EXPECTS,
    MAX_MINUTES,
    MAX_SIGNAL_TYPE,
    OUTCOMES,
    PRIORITIES,
    QUESTION_PLACEHOLDER,
    ROLES,
    SETTABLE_FIELDS,
    SLUG_HELP,
    STEP_REFERENCES,
    TRIGGERS,
    Add,
    _choice_error,
    _Context,
    _is_number,
    _is_slug,
    _listed,
    _shown,
    _unknown_keys,
)
from journeys.rules import JOURNEY_PATHS


def _check_team(value: object, label: str, context: _Context, add: Add) -> None:
    if not isinstance(value, str) or not value or len(value) > 50:
        add(f"{label} must be a team slug or null, got {_shown(value)}")
    elif context.teams is not None and value not in context.teams:
        add(f"{label} {value!r} is not a team (known: {_listed(context.teams)})")


def _check_config(kind: str, config: Mapping[Any, Any], context: _Context, add: Add) -> None:
    allowed = CONFIG_KEYS[kind]
    for key in config:
        if key not in allowed:
            add(f"config: unknown key {_shown(key)} (allowed for {kind}: {', '.join(allowed)})")
    for key, required in allowed.items():
        if key in config:
            _CHECKS[key](config[key], key, context, add)
        elif required:
            add(f"config.{key} is missing")
    if kind == "wait":
        _check_wait_exits(config, add)
    elif kind == "ask":
        _check_ask_routes(config, add)
        if "pass" in config:
            _check_pass(config, context, add)


def _check_wait_exits(config: Mapping[Any, Any], add: Add) -> None:
    if "minutes" not in config and "until" not in config:
        add("a wait needs minutes or until — it would never end")
    if "on_event" in config and "until" not in config:
        add("config.on_event needs until (there is nothing to wait for)")
    if "on_timeout" in config and "minutes" not in config:
        add("config.on_timeout needs minutes (the wait never times out)")


def _check_ask_routes(config: Mapping[Any, Any], add: Add) -> None:
    """Refuse routes that cannot mean what their author meant.

    The runner sends a failed answer to on_fail, else next: a test without on_fail changes
    nothing. A timeout goes to on_timeout, else on_fail, else next, so timeout_minutes alone is
    fine, but on_timeout without timeout_minutes never fires as a timeout. (on_fail alone is
    fine too: it is also where an answer that cannot be read, even when asked again, goes.)
    """
    if "pass" in config and "on_fail" not in config:
        add("config.pass needs on_fail (where to go when the answer fails)")
    if "on_timeout" in config and "timeout_minutes" not in config:
        add("config.on_timeout needs timeout_minutes (the question never times out)")


def _check_pass(config: Mapping[Any, Any], context: _Context, add: Add) -> None:
    """Check `pass` as the leaf it becomes, {"path": "answers.<field>", "op", "value"}."""
    test = config["pass"]
    if not isinstance(test, Mapping):
        add(f'config.pass must be an object like {{"op": "==", "value": true}}, got {_shown(test)}')
        return
    missing = [key for key in ("op", "value") if key not in test]
    if missing:
        add(f'config.pass: {" and ".join(missing)} missing (write {{"op": ..., "value": ...}})')
    _unknown_keys(test, ("op", "value"), lambda message: add(f"config.pass: {message}"))
    if missing:
        return
    field = config.get("field")
    path = f"answers.{field if _is_slug(field) else 'answer'}"
    leaf = {"path": path, "op": test["op"], "value": test["value"]}
    problems = rules.condition_errors(leaf, paths=JOURNEY_PATHS)
    for problem in problems:
        add("config.pass" + problem.removeprefix("condition"))
    expect, op, value = config.get("expect"), test["op"], test["value"]
    if problems or not isinstance(expect, str) or expect not in _EXPECT_OPS:
        return
    if op not in _EXPECT_OPS[expect]:
        suitable = ", ".join(_EXPECT_OPS[expect])
        add(f"config.pass: {op!r} does not suit a {expect} answer (use {suitable})")
    elif expect == "yes_no" and op != "exists" and not isinstance(value, bool):
        add(f"config.pass.value: a yes_no answer is true or false, got {_shown(value)}")
    elif expect in ("number", "years", "weeks") and op != "exists":
        values = value if isinstance(value, list) else [value]
        if not all(_is_number(item) for item in values):
            add(f"config.pass.value: a {expect} answer is compared with numbers (no quotes)")


# ---- one check per config key; each gets (value, key, context, add) --------------------------


def _step_reference(value: object, key: str, context: _Context, add: Add) -> None:
    if not isinstance(value, str):
        add(f"config.{key} must be a step key, got {_shown(value)}")
    elif value not in context.steps:
        add(f"config.{key} names no step {_shown(value)}")


def _stage_reference(value: object, key: str, context: _Context, add: Add) -> None:
    if not isinstance(value, str):
        add(f"config.{key} must be a stage key, got {_shown(value)}")
    elif value not in context.stages:
        add(f"config.{key} names no stage {_shown(value)}")


def _template(value: object, label: str, context: _Context, add: Add) -> None:
    if label == "retry_prompt" and isinstance(value, str):
        # The runner puts the question where a retry prompt says {question}; the stand-in has
        # the same length, so positions in messages stay true.
        value = value.replace(QUESTION_PLACEHOLDER, "(question)")
    for problem in rules.template_errors(value, paths=JOURNEY_PATHS):
        add(label + problem.removeprefix("template"))
    if isinstance(value, str) and len(value) <= rules.MAX_TEMPLATE:
        _check_answers(rules.template_paths(value, paths=JOURNEY_PATHS), label, context, add)


def _condition(value: object, key: str, context: _Context, add: Add) -> None:
    problems = rules.condition_errors(value, paths=JOURNEY_PATHS)
    for problem in problems:
        joint = "." if not problem.startswith("condition") else ""
        add(f"config.{key}{joint}{problem.removeprefix('condition')}")
    if not problems:  # a valid tree is shallow and well-formed, so walking it is safe
        _check_answers(_leaf_paths(value), f"config.{key}", context, add)


def _leaf_paths(node: Any) -> Iterator[str]:
    for kind in ("all", "any"):
        if kind in node:
            for child in node[kind]:
                yield from _leaf_paths(child)
            return
    if "not" in node:
        yield from _leaf_paths(node["not"])
    else:
        yield node["path"]


def _check_answers(paths: Iterator[str], where: str, context: _Context, add: Add) -> None:
    """A placeholder or test on answers.<x> needs an ask step that stores x, or it is a typo."""
    names = dict.fromkeys(path.split(".")[1] for path in paths if path.startswith("answers."))
    for name in names:
        if name not in context.fields:
            add(f"{where} names answers.{name} but no ask step stores {name!r}")


def _minutes(value: object, key: str, context: _Context, add: Add) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MINUTES:
        add(f"config.{key} must be whole minutes from 1 to {MAX_MINUTES}, got {_shown(value)}")


def _until(value: object, key: str, context: _Context, add: Add) -> None:
    if value == "reply":
        return
    known = context.signal_types
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SIGNAL_TYPE:
        add(f'config.until must be "reply" or a signal type, got {_shown(value)}')
    elif known is not None and value not in known:
        add(
            f'config.until {value!r} is neither "reply" nor a signal type (known: {_listed(known)})'
        )


def _field(value: object, key: str, context: _Context, add: Add) -> None:
    if not _is_slug(value):
        add(f"config.field must be a slug ({SLUG_HELP}), got {_shown(value)}")


def _boolean(value: object, key: str, context: _Context, add: Add) -> None:
    if not isinstance(value, bool):
        add(f"config.{key} must be true or false, got {_shown(value)}")


def _set(value: object, key: str, context: _Context, add: Add) -> None:
    if not isinstance(value, Mapping) or not value:
        example = '{"contact.name": "..."}'
        add(f"config.set must be a non-empty object like {example}, got {_shown(value)}")
        return
    for field, template in value.items():
        if field not in SETTABLE_FIELDS:
            settable = ", ".join(SETTABLE_FIELDS)
            add(f"config.set: {_shown(field)} cannot be set (settable: {settable})")
        else:
            _template(template, f"set[{field!r}]", context, add)


def _choice(choices: tuple[str, ...]) -> Callable[[object, str, _Context, Add], None]:
    def check(value: object, key: str, context: _Context, add: Add) -> None:
        if problem := _choice_error(value, choices, f"config.{key}"):
            add(problem)

    return check


_CHECKS: dict[str, Callable[[object, str, _Context, Add], None]] = {
    **dict.fromkeys(STEP_REFERENCES, _step_reference),
    **dict.fromkeys(("template", "subject", "question", "retry_prompt", "reason"), _template),
    **dict.fromkeys(("minutes", "timeout_minutes", "sla_minutes"), _minutes),
    "stage": _stage_reference,
    "condition": _condition,
    "until": _until,
    "field": _field,
    "disclose": _boolean,
    "set": _set,
    "team": lambda value, key, context, add: _check_team(value, f"config.{key}", context, add),
    "pass": lambda value, key, context, add: None,  # needs field and expect: see _check_pass
    "channel": _choice(CHANNELS),
    "expect": _choice(EXPECTS),
    "role": _choice(ROLES),
    "priority": _choice(PRIORITIES),
    "trigger": _choice(TRIGGERS),
    "outcome": _choice(OUTCOMES),
}
