"""Why a journey definition cannot run, said in words the ops person who wrote it understands.

A definition is data edited in admin (docs/journeys.md); publishing one that the runner would
choke on strands every contact enrolled in it, so every problem is found here, on save, each
message naming the step (or stage) and the setting. Pure Python like journeys/rules.py: no
Django, no ORM, and `definition_errors` never raises, whatever JSON it is handed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from journeys import rules
from journeys.rules import JOURNEY_PATHS, JOURNEY_PATHS_HELP

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
# Which pass tests make sense for each kind of parsed answer (journeys/answers.py).
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


def definition_errors(
    definition: object,
    *,
    teams: Collection[str] = (),
    signal_types: Collection[str] | None = None,
) -> list[str]:
    """Every reason `definition` cannot run, each saying where; [] when it can. Never raises.

    `teams`: the team slugs a step may name (empty: not checked). `signal_types`: the signal
    types a wait may wait for besides "reply" (None: any signal type is accepted).
    """
    if not isinstance(definition, Mapping):
        return [f"definition: must be an object with stages and steps, got {_shown(definition)}"]
    errors: list[str] = []
    for key in definition:
        if key not in _TOP_KEYS:
            allowed = ", ".join(_TOP_KEYS)
            errors.append(f"definition: unknown key {_shown(key)} (allowed: {allowed})")
    if "name" in definition and not _is_name(definition["name"]):
        shown = _shown(definition["name"])
        errors.append(f"definition: name must be text of 1 to {MAX_NAME} characters, got {shown}")
    stages, steps = definition.get("stages"), definition.get("steps")
    shape_errors = len(errors)
    if not isinstance(stages, list):
        got = "it is missing" if "stages" not in definition else f"got {_shown(stages)}"
        errors.append(f"definition: stages must be a list of stages, {got}")
    elif len(stages) > MAX_STAGES:
        errors.append(f"definition: too many stages ({len(stages)}; max {MAX_STAGES})")
    if not isinstance(steps, list) or not steps:
        got = "it is missing" if "steps" not in definition else f"got {_shown(steps)}"
        got = "got an empty list" if steps == [] else got
        errors.append(f"definition: steps must be a non-empty list of steps, {got}")
    elif len(steps) > MAX_STEPS:
        errors.append(f"definition: too many steps ({len(steps)}; max {MAX_STEPS})")
    if len(errors) > shape_errors or not isinstance(stages, list) or not isinstance(steps, list):
        return errors  # without usable lists of stages and steps nothing else can be judged

    context = _Context(
        steps=_first_positions(steps),
        stages=_check_stages(stages, errors),
        fields=frozenset(_ask_fields(steps)),
        teams=frozenset(team for team in teams if isinstance(team, str)) or None,
        signal_types=None
        if signal_types is None
        else frozenset(kind for kind in signal_types if isinstance(kind, str)),
    )
    start = definition.get("start")
    if "start" in definition:
        if not isinstance(start, str):
            errors.append(f"definition: start must be a step key, got {_shown(start)}")
        elif start not in context.steps:
            errors.append(f"definition: start names no step {_shown(start)}")
    for position, step in enumerate(steps):
        _check_step(position, step, context, errors)
    if "start" not in definition or (isinstance(start, str) and start in context.steps):
        first = context.steps[start] if isinstance(start, str) else 0
        errors.extend(_unreachable(steps, context, first))
    return errors


def _is_name(value: object) -> bool:
    return isinstance(value, str) and value.strip() != "" and len(value) <= MAX_NAME


def _first_positions(items: list[Any]) -> dict[str, int]:
    positions: dict[str, int] = {}
    for position, item in enumerate(items):
        key = item.get("key") if isinstance(item, Mapping) else None
        if _is_slug(key):
            positions.setdefault(key, position)
    return positions


def _ask_fields(steps: list[Any]) -> Iterator[str]:
    for step in steps:
        if isinstance(step, Mapping) and step.get("kind") == "ask":
            config = step.get("config")
            if isinstance(config, Mapping) and _is_slug(config.get("field")):
                yield config["field"]


def _key_error(
    noun: str, item: Mapping[Any, Any], positions: Mapping[str, int], position: int
) -> str | None:
    """Why an item's key is unusable (missing, not a slug, or already taken), or None."""
    if "key" not in item:
        return "key is missing"
    key = item["key"]
    if not _is_slug(key):
        return f"key must be a slug ({SLUG_HELP}), got {_shown(key)}"
    if positions[key] != position:
        return f"key {key!r} is already used by {noun} #{positions[key] + 1}"
    return None


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


def _check_stages(stages: list[Any], errors: list[str]) -> frozenset[str]:
    positions = _first_positions(stages)
    for position, stage in enumerate(stages):
        label = _label("stage", stage, positions, position)

        def add(message: str, label: str = label) -> None:
            errors.append(f"{label}: {message}")

        if not isinstance(stage, Mapping):
            add(f"must be an object with key, name and loop_stage, got {_shown(stage)}")
            continue
        if problem := _key_error("stage", stage, positions, position):
            add(problem)
        _unknown_keys(stage, _STAGE_KEYS, add)
        if not _is_name(stage.get("name")):
            add(f"name must be text of 1 to {MAX_NAME} characters, got {_shown(stage.get('name'))}")
        if "loop_stage" not in stage:
            add(f"loop_stage is missing (one of {', '.join(LOOP_STAGES)})")
        elif problem := _choice_error(stage["loop_stage"], LOOP_STAGES, "loop_stage"):
            add(problem)
    return frozenset(positions)


def _check_step(position: int, step: object, context: _Context, errors: list[str]) -> None:
    name = _label("step", step, context.steps, position)
    if not isinstance(step, Mapping):
        errors.append(f"{name}: must be an object with {', '.join(_STEP_KEYS)}, got {_shown(step)}")
        return
    kind = step.get("kind")
    label = f"{name} ({kind})" if isinstance(kind, str) and kind in STEP_KINDS else name

    def add(message: str) -> None:
        errors.append(f"{label}: {message}")

    if problem := _key_error("step", step, context.steps, position):
        add(problem)
    _unknown_keys(step, _STEP_KEYS, add)
    stage = step.get("stage")
    if "stage" not in step:
        add("stage is missing")
    elif not isinstance(stage, str):
        add(f"stage must be a stage key, got {_shown(stage)}")
    elif stage not in context.stages:
        add(f"stage names no stage {_shown(stage)}")
    for field, choices in (("kind", tuple(STEP_KINDS)), ("mode", MODES)):
        if field not in step:
            add(f"{field} is missing (one of {', '.join(choices)})")
        elif problem := _choice_error(step[field], choices, field):
            add(problem)
    team = step.get("team")
    if team is not None:
        _check_team(team, "team", context, add)
    config = step.get("config", {})
    if not isinstance(config, Mapping):
        add(f"config must be an object, got {_shown(config)}")
        config = {}
    elif isinstance(kind, str) and kind in STEP_KINDS:
        _check_config(kind, config, context, add)
    config_team = config.get("team") if kind == "handoff" else None
    if kind == "handoff" and team is None and config_team is None:
        add("needs a team")
    elif kind == "handoff" and isinstance(team, str) and isinstance(config_team, str):
        if team != config_team:
            add(f"config.team {config_team!r} differs from the step's team {team!r} (set one)")
    elif step.get("mode") == "human" and team is None:
        add("human mode needs a team")


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


def _successors(position: int, step: object, context: _Context, count: int) -> Iterator[int]:
    """Where a step can go: the steps it names, plus the following step when it falls through."""
    if not isinstance(step, Mapping):
        return
    kind = step.get("kind")
    config = step.get("config")
    config = config if isinstance(config, Mapping) else {}
    for key in STEP_REFERENCES:
        target = config.get(key)
        if isinstance(target, str) and target in context.steps:
            yield context.steps[target]
    if kind == "wait":
        # An exit without its own target (until -> on_event, minutes -> on_timeout) goes to next.
        exits = [
            (trigger, route)
            for trigger, route in (("until", "on_event"), ("minutes", "on_timeout"))
            if trigger in config
        ]
        untargeted = not exits or any(route not in config for _, route in exits)
        falls_through = untargeted and "next" not in config
    else:
        falls_through = kind not in ("end", "branch") and "next" not in config
    if falls_through and position + 1 < count:
        yield position + 1


def _references_sound(steps: list[Any], context: _Context) -> bool:
    """True when every route resolves: with a typo in one, "unreachable" would only be noise."""
    for step in steps:
        config = step.get("config") if isinstance(step, Mapping) else None
        if not isinstance(config, Mapping):
            continue
        if step.get("kind") == "branch" and not ("then" in config and "else" in config):
            return False
        for key in STEP_REFERENCES:
            if key in config and not (
                isinstance(config[key], str) and config[key] in context.steps
            ):
                return False
    return True


def _unreachable(steps: list[Any], context: _Context, first: int) -> list[str]:
    """Steps no route leads to, once every route names a real step."""
    if not _references_sound(steps, context):
        return []
    reached = {first}
    pending = [first]
    while pending:
        position = pending.pop()
        for target in _successors(position, steps[position], context, len(steps)):
            if target not in reached:
                reached.add(target)
                pending.append(target)
    return [
        f"{_label('step', step, context.steps, position)}: cannot be reached from the start"
        for position, step in enumerate(steps)
        if position not in reached and isinstance(step, Mapping)
    ]
