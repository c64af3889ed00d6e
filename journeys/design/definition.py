"""`definition_errors` and the checks of a definition's shape, its stages and its steps.

Each step's config is checked by `config`; unreachable steps are found by `reachability`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from journeys.design.config import _check_config, _check_team
from journeys.design.reachability import _unreachable
from journeys.design.schema import (
    _STAGE_KEYS,
    _STEP_KEYS,
    _TOP_KEYS,
    LOOP_STAGES,
    MAX_NAME,
    MAX_STAGES,
    MAX_STEPS,
    MODES,
    SLUG_HELP,
    STEP_KINDS,
    _choice_error,
    _Context,
    _is_slug,
    _label,
    _shown,
    _unknown_keys,
)


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
