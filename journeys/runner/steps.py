"""Running steps: `_Run` enters steps until one waits, the journey ends or it loops, reads
replies at a waiting ask, and hands the contact to a person when anything is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from journeys.answers import parse_answer
from journeys.rules import JOURNEY_PATHS, condition_matches, format_value, template_render
from journeys.runner.definition import (
    DEFAULT_RETRY_PROMPT,
    DISCLOSURE,
    STEP_BUDGET,
    Action,
    Outcome,
    Status,
    _config,
    _Definition,
    _minutes,
    _target,
    _text,
)


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
        until = f" until {_when(due_at)}" if due_at else ""
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
        parts = [f"for {what}" if what else "", f"until {_when(due_at)}" if due_at else ""]
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


def _when(at: datetime) -> str:
    """A due time as the timeline shows it: "24 Nov 2026 10:00 UTC"."""
    return f"{at.astimezone(UTC):%-d %b %Y %H:%M} UTC"
