"""Which steps no route leads to from the start, judged only once every route names a real
step (otherwise a typo would also show up as unreachable steps).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from journeys.design.schema import (
    STEP_REFERENCES,
    _Context,
    _label,
)


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
