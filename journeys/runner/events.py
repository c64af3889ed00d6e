"""`advance`: which event applies to the current state, what running it gives, and the
unchanged Outcome of an event that does not apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from journeys.runner.definition import (
    Outcome,
    Status,
    _config,
    _Definition,
    _minutes,
    _target,
    _text,
)
from journeys.runner.steps import _Run


def _parse_due(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _derived_status(state: Mapping[str, Any], step: Mapping[str, Any] | None) -> Status:
    status = state.get("status")
    if status in ("active", "paused_for_human", "completed", "dropped"):
        return status
    if state.get("step") is None:
        return "completed"
    return "paused_for_human" if step is not None and step.get("kind") == "handoff" else "active"


def _unchanged(state: Mapping[str, Any], step: Mapping[str, Any] | None, now: datetime) -> Outcome:
    """The Outcome of an event that does not apply: nothing happens, the timer stays as it was."""
    status = _derived_status(state, step)
    kind = step.get("kind") if step else None
    config = _config(step)
    waiting_for: str | None = None
    due_at: datetime | None = None
    if status == "active" and kind == "ask":
        waiting_for = "reply"
        length = _minutes(config.get("timeout_minutes"))
    elif status == "active" and kind == "wait":
        waiting_for = _target(config.get("until"))
        length = _minutes(config.get("minutes"))
    else:
        length = None
    if length:
        # A state written by this runner carries its due time; one without it restarts the timer
        # rather than losing it (a late nudge beats a journey that never wakes).
        due_at = _parse_due(state["due_at"]) if "due_at" in state else now + length
    answers = state.get("answers")
    new_state = {
        "step": state.get("step"),
        "answers": dict(answers) if isinstance(answers, Mapping) else {},
        "asked": bool(state.get("asked", False)),
        "retried": bool(state.get("retried", False)),
        "due_at": due_at.isoformat() if due_at else None,
        "status": status,
    }
    return Outcome(new_state, [], status, due_at, waiting_for)


def advance(
    definition: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    event: Mapping[str, Any],
    now: datetime,
    context: Mapping[str, Any] | None = None,
) -> Outcome:
    """Move an enrollment on by one event; see docs/journeys.md, "The runner".

    `context` is the journey document without answers (contact, account, properties, journey);
    the state's answers are merged in for templates and conditions. It is optional so callers
    following the four-argument form in docs/journeys.md still work (templates then show "—").
    Never raises: anything that would is handed to a person through the fail-safe handoff.
    """
    spec = _Definition.read(definition if isinstance(definition, Mapping) else {})
    raw_answers = state.get("answers") if isinstance(state, Mapping) else None
    answers = dict(raw_answers) if isinstance(raw_answers, Mapping) else {}
    doc = dict(context) if isinstance(context, Mapping) else {}
    doc["answers"] = answers  # the same dict: answers stored during this call are visible
    run = _Run(spec, now, answers, doc)
    key = state.get("step") if isinstance(state, Mapping) else None
    try:
        return _dispatch(run, spec, state, event if isinstance(event, Mapping) else {})
    except Exception as error:  # the fail-safe: a broken journey goes to a person
        run.actions = []
        name = type(error).__name__
        where = run.current or (key if isinstance(key, str) else spec.start)
        reason = f"Journey failed at step {where} ({name}); a person should check it"
        return run.failsafe(where, reason)


def _dispatch(
    run: _Run, spec: _Definition, state: Mapping[str, Any] | None, event: Mapping[str, Any]
) -> Outcome:
    kind = event.get("kind")
    if not isinstance(state, Mapping):
        # Not started yet: whatever the event, the journey starts (a stray event must not
        # leave an enrollment without a state).
        return run.run_from(spec.start)
    key = state.get("step")
    step = spec.steps.get(key) if isinstance(key, str) else None
    status = _derived_status(state, step)
    if status in ("completed", "dropped"):
        return _unchanged(state, step, run.now)
    if status == "paused_for_human":
        if kind != "resumed":
            return _unchanged(state, step, run.now)
        run.log(key, "resumed", f"Automation resumed by a person at step {key}")
        if step is not None and step.get("kind") == "handoff":
            return run.run_from(run.next_of(key, _config(step).get("next")))
        return run.run_from(key)  # after a fail-safe: try the step again
    if step is None:
        return run.failsafe(key, f"Journey step {key} does not exist; a person should check it")
    config = _config(step)
    retried = bool(state.get("retried", False))
    if step.get("kind") == "ask":
        if kind == "reply":
            return run.read_reply(key, config, _text(event.get("text")), retried)
        if kind == "due" and _minutes(config.get("timeout_minutes")):
            run.log(key, "timeout", f"No answer at step {key} by the due time")
            targets = (config.get("on_timeout"), config.get("on_fail"), config.get("next"))
            return run.run_from(run.next_of(key, *targets))
    elif step.get("kind") == "wait":
        until = _target(config.get("until"))
        if kind == "due" and _minutes(config.get("minutes")):
            run.log(key, "timeout", f"The wait at step {key} is over")
            return run.run_from(run.next_of(key, config.get("on_timeout"), config.get("next")))
        replied = kind == "reply" and until == "reply"
        signalled = kind == "signal" and until not in (None, "reply") and event.get("type") == until
        if replied or signalled:
            what = "A reply" if replied else f"Signal {until}"
            run.log(key, "event", f"{what} arrived at step {key}")
            return run.run_from(run.next_of(key, config.get("on_event"), config.get("next")))
    return _unchanged(state, step, run.now)
