"""The journey step machine: given a definition, a state and an event, say what happens next.

`advance` is pure (no Django, no ORM, no clock of its own): the service layer locks the
enrollment, calls it, and applies the returned `Outcome` (outbox messages, handoffs, field
updates, stage changes, the next due time) in one transaction. Keeping the decisions here makes
every journey behaviour testable as a table of (state, event) → actions, and lets a replay run
the same code. The contract is docs/journeys.md, "The runner".

Two promises shape the code:

- It never raises. A broken definition or an impossible state becomes a `raise_handoff` to a
  person ("a broken automation goes to a human, never silence"), not an exception in a worker.
- An event that does not apply (a reply during a plain timed wait, anything while paused for a
  human) changes nothing: same state, no actions, same due time. The state therefore carries its
  own `due_at` (ISO 8601) and `status` next to the documented step/answers/asked/retried keys,
  because the runner cannot otherwise know when the current wait was due.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from journeys.answers import parse_answer
from journeys.rules import JOURNEY_PATHS, condition_matches, format_value, template_render

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


def _minutes(value: object) -> timedelta | None:
    """A wait length from config: a positive number of minutes, else None (no timer)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return timedelta(minutes=min(value, MAX_WAIT_MINUTES))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


@dataclass
class _Run:
    """One call's worth of work: the actions so far and the document templates see."""

    spec: _Definition
    now: datetime
    answers: dict[str, Any]
    doc: dict[str, Any]
    actions: list[Action] = field(default_factory=list)
    entered: int = 0
    seen: set[str] = field(default_factory=set)
    loop_cut: int | None = None  # actions kept if the loop guard trips: one pass of the loop
    current: str | None = None  # the step being run, named by the fail-safe if anything breaks

    # ---- small helpers ---------------------------------------------------------------------

    def log(self, step: str | None, kind: str, summary: str) -> None:
        self.actions.append(Action("log", {"step": step, "kind": kind, "summary": summary}))

    def render(self, template: object) -> str:
        return template_render(_text(template), self.doc, paths=JOURNEY_PATHS)

    def send(self, key: str, config: Mapping[str, Any], body: str) -> None:
        if config.get("disclose") is not False:
            body += DISCLOSURE
        channel = config.get("channel")
        data = {
            "channel": channel if isinstance(channel, str) and channel else "auto",
            "body": body,
            "automated": True,
            "step": key,
        }
        if config.get("subject"):
            data["subject"] = self.render(config.get("subject"))
        self.actions.append(Action("send", data))

    def next_of(self, key: str, *targets: object) -> str | None:
        """The first explicit target, else the following step ("a missing next")."""
        for target in targets:
            if chosen := _target(target):
                return chosen
        return self.spec.following(key)

    def state(self, step: str | None, status: Status, **extra: Any) -> dict[str, Any]:
        due_at = extra.get("due_at")
        return {
            "step": step,
            "answers": dict(self.answers),
            "asked": extra.get("asked", False),
            "retried": extra.get("retried", False),
            "due_at": due_at.isoformat() if due_at else None,
            "status": status,
        }

    def outcome(
        self,
        step: str | None,
        status: Status,
        due_at: datetime | None = None,
        waiting_for: str | None = None,
        **flags: bool,
    ) -> Outcome:
        state = self.state(step, status, due_at=due_at, **flags)
        return Outcome(state, list(self.actions), status, due_at, waiting_for)

    # ---- the fail-safe ---------------------------------------------------------------------

    def failsafe(self, key: str | None, reason: str, *, looped: bool = False) -> Outcome:
        """Hand the contact to a person instead of failing silently or spamming them."""
        if looped and self.loop_cut is not None:
            self.actions = self.actions[: self.loop_cut]
        step = self.spec.steps.get(key) if key else None
        team = _config(step).get("team") or (step.get("team") if step else None)
        self.log(key, "failsafe", reason)
        data = {
            "team": team if isinstance(team, str) else None,
            "role": None,
            "priority": "high",
            "trigger": "manual",
            "reason": reason,
            "sla_minutes": None,
            "step": key,
        }
        self.actions.append(Action("raise_handoff", data))
        return self.outcome(key, "paused_for_human")

    # ---- running steps ---------------------------------------------------------------------

    def run_from(self, key: str | None) -> Outcome:
        """Run instantaneous steps from `key` until one waits, the journey ends, or it loops."""
        while True:
            if key is None:
                self.log(None, "ended", "Journey ended: completed (no more steps)")
                return self.outcome(None, "completed")
            step = self.spec.steps.get(key)
            if step is None:
                return self.failsafe(
                    key, f"Journey step {key} does not exist; a person should check it"
                )
            if key in self.seen and self.loop_cut is None:
                self.loop_cut = len(self.actions)
            self.seen.add(key)
            self.current = key
            self.entered += 1
            if self.entered > STEP_BUDGET:
                reason = f"Journey looped at step {key}; a person should check it"
                return self.failsafe(key, reason, looped=True)
            kind = step.get("kind")
            self.log(key, "entered", f"Entered step {key} ({kind})")
            result = self.enter(key, step, _config(step))
            if isinstance(result, Outcome):
                return result
            key = result

    def enter(
        self, key: str, step: Mapping[str, Any], config: Mapping[str, Any]
    ) -> Outcome | str | None:
        """Do one step: an Outcome when it stops here, else the key of the step to run next."""
        kind = step.get("kind")
        if kind == "send_message":
            self.send(key, config, self.render(config.get("template")))
            return self.next_of(key, config.get("next"))
        if kind == "branch":
            condition = config.get("condition")
            held = isinstance(condition, Mapping) and condition_matches(condition, self.doc)
            target = self.next_of(key, config.get("then") if held else config.get("else"))
            word = "held" if held else "did not hold"
            self.log(
                key, "branch", f"Branch {key}: the condition {word}; going to {target or 'the end'}"
            )
            return target
        if kind == "update_fields":
            self.update_fields(config.get("set"))
            return self.next_of(key, config.get("next"))
        if kind == "advance_stage":
            self.actions.append(Action("set_stage", {"stage": config.get("stage")}))
            return self.next_of(key, config.get("next"))
        if kind == "end":
            ending = config.get("outcome")
            status: Status = "dropped" if ending == "dropped" else "completed"
            self.log(key, "ended", f"Journey ended: {status}")
            return self.outcome(None, status)
        if kind == "ask":
            self.send(key, config, self.question(config))
            return self.wait_for_answer(key, config, retried=False)
        if kind == "wait":
            return self.start_wait(key, config)
        if kind == "handoff":
            return self.raise_handoff(key, step, config)
        return self.failsafe(
            key, f"Journey step {key} has an unknown kind; a person should check it"
        )

    def update_fields(self, fields: object) -> None:
        """Render each field's template, and let later steps in this call see the new values."""
        values: dict[str, Any] = {}
        for path, template in fields.items() if isinstance(fields, Mapping) else ():
            value = self.render(template) if isinstance(template, str) else template
            values[str(path)] = value
            head, _, name = str(path).partition(".")
            if head in ("contact", "account") and name:
                current = self.doc.get(head)
                self.doc[head] = {**(current if isinstance(current, Mapping) else {}), name: value}
        self.actions.append(Action("set_fields", values))

    def question(self, config: Mapping[str, Any]) -> str:
        return self.render(config.get("question"))

    def wait_for_answer(self, key: str, config: Mapping[str, Any], *, retried: bool) -> Outcome:
        timeout = _minutes(config.get("timeout_minutes"))
        due_at = self.now + timeout if timeout else None
        until = f" until {due_at.isoformat()}" if due_at else ""
        again = "Asked again" if retried else "Asked"
        self.log(key, "waiting", f"{again}; waiting for a reply{until}")
        return self.outcome(key, "active", due_at, "reply", asked=True, retried=retried)

    def start_wait(self, key: str, config: Mapping[str, Any]) -> Outcome:
        length = _minutes(config.get("minutes"))
        until = _target(config.get("until"))
        if not length and not until:
            return self.failsafe(
                key, f"Journey step {key} waits for nothing; a person should check it"
            )
        due_at = self.now + length if length else None
        what = "a reply" if until == "reply" else f"signal {until}" if until else ""
        parts = [f"for {what}" if what else "", f"until {due_at.isoformat()}" if due_at else ""]
        self.log(key, "waiting", " ".join(["Waiting", *filter(None, parts)]))
        return self.outcome(key, "active", due_at, until)

    def raise_handoff(
        self, key: str, step: Mapping[str, Any], config: Mapping[str, Any]
    ) -> Outcome:
        team = config.get("team") or step.get("team")
        reason = self.render(config.get("reason")) or f"Journey step {key} needs a person"
        data = {
            "team": team,
            "role": config.get("role"),
            "priority": config.get("priority") or "normal",
            "trigger": config.get("trigger") or "stage",
            "reason": reason,
            "sla_minutes": config.get("sla_minutes"),
            "step": key,
        }
        self.actions.append(Action("raise_handoff", data))
        return self.outcome(key, "paused_for_human")

    # ---- events at a waiting step ----------------------------------------------------------

    def read_reply(self, key: str, config: Mapping[str, Any], text: str, retried: bool) -> Outcome:
        name = _text(config.get("field")) or key
        expect = config.get("expect") or "text"
        parsed = parse_answer(text, expect)
        if not parsed.ok:
            self.log(key, "answer", f"Could not read the answer to {name}: {parsed.why}")
            if not retried:
                prompt = _text(config.get("retry_prompt")) or DEFAULT_RETRY_PROMPT
                question = self.question(config)
                body = question.join(self.render(part) for part in prompt.split("{question}"))
                self.send(key, config, body)
                return self.wait_for_answer(key, config, retried=True)
            return self.run_from(
                self.next_of(
                    key, config.get("on_fail"), config.get("on_timeout"), config.get("next")
                )
            )
        self.answers[name] = parsed.value
        check = config.get("pass")
        passed = True
        if isinstance(check, Mapping):
            leaf = {"path": f"answers.{name}", "op": check.get("op"), "value": check.get("value")}
            passed = condition_matches(leaf, self.doc)
        verdict = "no check" if not isinstance(check, Mapping) else "passed" if passed else "failed"
        self.log(
            key, "answer", f"Read the answer to {name}: {format_value(parsed.value)} ({verdict})"
        )
        if passed:
            return self.run_from(self.next_of(key, config.get("next")))
        return self.run_from(self.next_of(key, config.get("on_fail"), config.get("next")))


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
