"""Tests for journey definition validation (pure Python, no DB): one valid recruitment journey,
then one mutation per row, each asserting the message an ops person would read."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeys.design import (
    CHANNELS,
    CONFIG_KEYS,
    DEFINITION_HELP,
    LOOP_STAGES,
    PRIORITIES,
    ROLES,
    STEP_KINDS,
    TRIGGERS,
    definition_errors,
)
from journeys.rules import JOURNEY_PATHS_HELP, OPERATORS

TEAMS = ("recruiters", "sales")
SIGNAL_TYPES = ("interview_booked", "form_submitted")
SLUG_HELP = "a-z, 0-9, _ and -, 1 to 50 characters"
KINDS = "send_message, wait, branch, ask, handoff, update_fields, advance_stage, end"


def step(key: str, stage: str, kind: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "key": key,
        "stage": stage,
        "kind": kind,
        "mode": "automation",
        "team": None,
        "config": config,
        **fields,
    }


RECRUITMENT: dict[str, Any] = {
    "name": "Recruitment",
    "start": "ask_visa",
    "stages": [
        {"key": "screen", "name": "Screening", "loop_stage": "acquire"},
        {"key": "interview", "name": "Interview", "loop_stage": "onboard"},
    ],
    "steps": [
        step(
            "ask_visa",
            "screen",
            "ask",
            {
                "channel": "sms",
                "question": "Hi {contact.first_name}, do you have a UK work visa?",
                "field": "visa",
                "expect": "yes_no",
                "pass": {"op": "==", "value": True},
                "on_fail": "reject",
                "next": "ask_experience",
                "timeout_minutes": 2880,
                "on_timeout": "nudge",
                "retry_prompt": "Sorry {contact.first_name}, just yes or no: a UK work visa?",
            },
        ),
        step(
            "ask_experience",
            "screen",
            "ask",
            {
                "channel": "sms",
                "question": "How many years have you worked in warehouses?",
                "field": "experience_years",
                "expect": "years",
                "pass": {"op": ">=", "value": 1},
                "on_fail": "reject",
                "retry_prompt": "Sorry, I didn't catch that. {question}",
            },
        ),
        step(
            "ask_start",
            "screen",
            "ask",
            {
                "channel": "auto",
                "question": "In how many weeks could you start?",
                "field": "start_weeks",
                "expect": "weeks",
            },
        ),
        step(
            "soon",
            "screen",
            "branch",
            {
                "condition": {"path": "answers.start_weeks", "op": "<=", "value": 12},
                "then": "to_interview",
                "else": "reject",
            },
        ),
        step("to_interview", "screen", "advance_stage", {"stage": "interview"}),
        step(
            "save_name",
            "interview",
            "update_fields",
            {"set": {"contact.name": "{contact.first_name} {properties.last_name}"}},
        ),
        step(
            "book",
            "interview",
            "send_message",
            {
                "channel": "auto",
                "template": "Great news {contact.first_name}! Book an interview: {properties.link}",
                "disclose": True,
            },
        ),
        step(
            "qualify",
            "interview",
            "handoff",
            {
                "role": "lead",
                "priority": "high",
                "trigger": "qualification",
                "reason": "{contact.name} for {journey.name}: visa {answers.visa}, "
                "{answers.experience_years} years, starts in {answers.start_weeks} weeks",
                "sla_minutes": 240,
                "next": "done",
            },
            mode="hybrid",
            team="recruiters",
        ),
        step("done", "interview", "end", {"outcome": "completed"}),
        step(
            "nudge",
            "screen",
            "send_message",
            {"channel": "sms", "template": "Still interested, {contact.first_name}?"},
        ),
        step(
            "follow_up",
            "screen",
            "wait",
            {"until": "reply", "on_event": "ask_visa", "minutes": 1440, "on_timeout": "reject"},
        ),
        step(
            "reject",
            "screen",
            "send_message",
            {"channel": "auto", "template": "Thank you {contact.first_name}, we will not go on."},
        ),
        step("dropped", "screen", "end", {"outcome": "dropped"}),
    ],
}


def test_the_recruitment_journey_is_valid() -> None:
    assert definition_errors(RECRUITMENT) == []
    assert definition_errors(RECRUITMENT, teams=TEAMS, signal_types=SIGNAL_TYPES) == []


def test_a_minimal_journey_is_valid() -> None:
    minimal = {
        "stages": [{"key": "s", "name": "S", "loop_stage": "renew"}],
        "steps": [step("x", "s", "end", {"outcome": "completed"})],
    }
    assert definition_errors(minimal) == []


def test_teams_and_signal_types_are_only_checked_when_given() -> None:
    definition = copy.deepcopy(RECRUITMENT)
    config(definition, "follow_up")["until"] = "anything_at_all"
    find(definition, "qualify")["team"] = "night_shift"
    assert definition_errors(definition) == []
    assert definition_errors(definition, teams=TEAMS, signal_types=SIGNAL_TYPES) == [
        "step 'qualify' (handoff): team 'night_shift' is not a team (known: recruiters, sales)",
        "step 'follow_up' (wait): config.until 'anything_at_all' is neither \"reply\" nor a "
        "signal type (known: form_submitted, interview_booked)",
    ]


# ---- one mutation, one message ---------------------------------------------------------------


def find(definition: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in definition["steps"] if isinstance(s, dict) and s.get("key") == key)


def config(definition: dict[str, Any], key: str) -> dict[str, Any]:
    return find(definition, key)["config"]


def position(definition: dict[str, Any], key: str) -> int:
    return next(i for i, s in enumerate(definition["steps"]) if s.get("key") == key)


class Sub(str):
    """An expected message given as a distinctive substring (for messages with long help)."""


class Replace(tuple[Any]):
    """Returned by a mutation that replaces the whole definition instead of editing it."""


Mutation = Callable[[dict[str, Any]], Any]


def case(id: str, mutate: Mutation, expected: str, *, alone: bool = True) -> Any:
    """`alone`: this mutation causes exactly this one message (nothing cascades from it)."""
    return pytest.param(mutate, expected, alone, id=id)


UNKNOWN_CONTACT_AGE = Sub(f"unknown path 'contact.age' (known: {JOURNEY_PATHS_HELP})")

CASES = [
    # -- the shape of the whole definition
    case(
        "a list is not a definition",
        lambda d: Replace([[d]]),
        "definition: must be an object with stages and steps, got a list",
    ),
    case(
        "an unknown top-level key is refused",
        lambda d: d.update(version=2),
        "definition: unknown key 'version' (allowed: name, start, stages, steps)",
    ),
    case(
        "steps are required",
        lambda d: d.pop("steps"),
        "definition: steps must be a non-empty list of steps, it is missing",
    ),
    case(
        "an empty list of steps is refused",
        lambda d: d.update(steps=[]),
        "definition: steps must be a non-empty list of steps, got an empty list",
    ),
    case(
        "stages must be a list",
        lambda d: d.update(stages={"screen": "Screening"}),
        "definition: stages must be a list of stages, got an object",
    ),
    case(
        "more than 200 steps are refused",
        lambda d: d["steps"].extend([d["steps"][-1]] * 188),
        "definition: too many steps (201; max 200)",
    ),
    case(
        "more than 50 stages are refused",
        lambda d: d["stages"].extend([d["stages"][-1]] * 49),
        "definition: too many stages (51; max 50)",
    ),
    case(
        "the name must be text",
        lambda d: d.update(name=5),
        "definition: name must be text of 1 to 100 characters, got 5",
    ),
    case(
        "the start must name a step",
        lambda d: d.update(start="ask_vias"),
        "definition: start names no step 'ask_vias'",
    ),
    # -- stages
    case(
        "a stage key must be a slug",
        lambda d: d["stages"][1].update(key="Interview"),
        f"stage #2: key must be a slug ({SLUG_HELP}), got 'Interview'",
        alone=False,
    ),
    case(
        "stage keys are unique",
        lambda d: d["stages"].append({"key": "screen", "name": "Again", "loop_stage": "renew"}),
        "stage #3: key 'screen' is already used by stage #1",
    ),
    case(
        "a stage needs a known loop stage",
        lambda d: d["stages"][0].update(loop_stage="grow"),
        "stage 'screen': loop_stage 'grow' is not one of acquire, onboard, adopt, expand, renew",
    ),
    case(
        "a stage needs a name",
        lambda d: d["stages"][0].pop("name"),
        "stage 'screen': name must be text of 1 to 100 characters, got null",
    ),
    case(
        "a stage refuses unknown keys",
        lambda d: d["stages"][0].update(colour="red"),
        "stage 'screen': unknown key 'colour' (allowed: key, name, loop_stage, id)",
    ),
    # -- step fields
    case(
        "a step must be an object",
        lambda d: d["steps"].append("end here"),
        "step #14: must be an object with key, stage, kind, mode, team, config, got 'end here'",
    ),
    case(
        "a step key must be a slug",
        lambda d: find(d, "dropped").update(key="Dropped!"),
        f"step #13 (end): key must be a slug ({SLUG_HELP}), got 'Dropped!'",
    ),
    case(
        "step keys are unique",
        lambda d: find(d, "dropped").update(key="done"),
        "step #13 (end): key 'done' is already used by step #9",
    ),
    case(
        "a step refuses unknown keys",
        lambda d: find(d, "book").update(name="Book"),
        "step 'book' (send_message): unknown key 'name' (allowed: key, stage, kind, mode, team, "
        "config)",
    ),
    case(
        "a step's stage must exist",
        lambda d: find(d, "book").update(stage="interviews"),
        "step 'book' (send_message): stage names no stage 'interviews'",
    ),
    case(
        "a step needs a stage",
        lambda d: find(d, "book").pop("stage"),
        "step 'book' (send_message): stage is missing",
    ),
    case(
        "a step's kind must be known",
        lambda d: find(d, "book").update(kind="email"),
        f"step 'book': kind 'email' is not one of {KINDS}",
    ),
    case(
        "a step's mode must be known",
        lambda d: find(d, "book").update(mode="auto"),
        "step 'book' (send_message): mode 'auto' is not one of automation, human, hybrid",
    ),
    case(
        "a step needs a mode",
        lambda d: find(d, "book").pop("mode"),
        "step 'book' (send_message): mode is missing (one of automation, human, hybrid)",
    ),
    case(
        "a team is text or null",
        lambda d: find(d, "book").update(team=7),
        "step 'book' (send_message): team must be a team slug or null, got 7",
    ),
    case(
        "a team must be one of the given teams",
        lambda d: find(d, "book").update(team="marketing"),
        "step 'book' (send_message): team 'marketing' is not a team (known: recruiters, sales)",
    ),
    case(
        "a human step needs a team",
        lambda d: find(d, "book").update(mode="human"),
        "step 'book' (send_message): human mode needs a team",
    ),
    case(
        "a handoff needs a team",
        lambda d: find(d, "qualify").update(team=None),
        "step 'qualify' (handoff): needs a team",
    ),
    case(
        "a handoff's config team must agree with the step's",
        lambda d: config(d, "qualify").update(team="sales"),
        "step 'qualify' (handoff): config.team 'sales' differs from the step's team 'recruiters' "
        "(set one)",
    ),
    # -- config keys and types
    case(
        "config must be an object",
        lambda d: find(d, "book").update(config=["hello"]),
        "step 'book' (send_message): config must be an object, got a list",
    ),
    case(
        "config refuses keys its kind does not have",
        lambda d: config(d, "book").update(colour="red"),
        "step 'book' (send_message): config: unknown key 'colour' (allowed for send_message: "
        "channel, template, subject, disclose, next)",
    ),
    case(
        "config needs its required keys",
        lambda d: config(d, "book").pop("template"),
        "step 'book' (send_message): config.template is missing",
    ),
    case(
        "minutes must be at least one",
        lambda d: config(d, "follow_up").update(minutes=0),
        "step 'follow_up' (wait): config.minutes must be whole minutes from 1 to 525600, got 0",
    ),
    case(
        "a timeout longer than a year is refused",
        lambda d: config(d, "ask_visa").update(timeout_minutes=525601),
        "step 'ask_visa' (ask): config.timeout_minutes must be whole minutes from 1 to 525600, "
        "got 525601",
    ),
    case(
        "quoted minutes are refused",
        lambda d: config(d, "qualify").update(sla_minutes="240"),
        "step 'qualify' (handoff): config.sla_minutes must be whole minutes from 1 to 525600, "
        "got '240'",
    ),
    case(
        "a channel must be known",
        lambda d: config(d, "book").update(channel="fax"),
        "step 'book' (send_message): config.channel 'fax' is not one of auto, email, sms, "
        "whatsapp, chat",
    ),
    case(
        "disclose is true or false",
        lambda d: config(d, "book").update(disclose="yes"),
        "step 'book' (send_message): config.disclose must be true or false, got 'yes'",
    ),
    case(
        "an expect must be known",
        lambda d: config(d, "ask_start").update(expect="date"),
        "step 'ask_start' (ask): config.expect 'date' is not one of yes_no, number, years, weeks, "
        "text",
    ),
    case(
        "a priority must be known",
        lambda d: config(d, "qualify").update(priority="asap"),
        "step 'qualify' (handoff): config.priority 'asap' is not one of low, normal, high, urgent",
    ),
    case(
        "a journey handoff trigger is qualification, stage or manual",
        lambda d: config(d, "qualify").update(trigger="high_value"),
        "step 'qualify' (handoff): config.trigger 'high_value' is not one of qualification, "
        "stage, manual",
    ),
    case(
        "a role must be known",
        lambda d: config(d, "qualify").update(role="boss"),
        "step 'qualify' (handoff): config.role 'boss' is not one of rep, csm, lead, director, "
        "leader, ops",
    ),
    case(
        "an outcome must be known",
        lambda d: config(d, "dropped").update(outcome="failed"),
        "step 'dropped' (end): config.outcome 'failed' is not one of completed, dropped",
    ),
    case(
        "an end step has no next",
        lambda d: config(d, "done").update(next="dropped"),
        "step 'done' (end): config: unknown key 'next' (allowed for end: outcome)",
    ),
    # -- the ask step's pass test and routes
    case(
        "a pass test needs a known operator",
        lambda d: config(d, "ask_visa")["pass"].update(op="is"),
        f"step 'ask_visa' (ask): config.pass.op: unknown operator 'is' (known: "
        f"{', '.join(OPERATORS)})",
    ),
    case(
        "a pass value must suit its operator",
        lambda d: config(d, "ask_experience")["pass"].update(value="1"),
        "step 'ask_experience' (ask): config.pass.value: '>=' needs a number (no quotes), "
        "got text '1'",
    ),
    case(
        "a pass test must be an object",
        lambda d: config(d, "ask_visa").update({"pass": True}),
        'step \'ask_visa\' (ask): config.pass must be an object like {"op": "==", "value": '
        "true}, got true",
    ),
    case(
        "a pass test needs a value",
        lambda d: config(d, "ask_visa")["pass"].pop("value"),
        'step \'ask_visa\' (ask): config.pass: value missing (write {"op": ..., "value": ...})',
    ),
    case(
        "a pass test has only op and value",
        lambda d: config(d, "ask_visa")["pass"].update(path="answers.visa"),
        "step 'ask_visa' (ask): config.pass: unknown key 'path' (allowed: op, value)",
    ),
    case(
        "a yes/no answer is not compared as a number",
        lambda d: config(d, "ask_visa")["pass"].update(op=">", value=0),
        "step 'ask_visa' (ask): config.pass: '>' does not suit a yes_no answer "
        "(use ==, !=, exists)",
    ),
    case(
        "a yes/no answer is compared with true or false",
        lambda d: config(d, "ask_visa")["pass"].update(value="yes"),
        "step 'ask_visa' (ask): config.pass.value: a yes_no answer is true or false, got 'yes'",
    ),
    case(
        "a years answer is compared with numbers",
        lambda d: config(d, "ask_experience")["pass"].update(op="in", value=["1", "2"]),
        "step 'ask_experience' (ask): config.pass.value: a years answer is compared with numbers "
        "(no quotes)",
    ),
    case(
        "a pass test needs somewhere to go on failure",
        lambda d: config(d, "ask_experience").pop("on_fail"),
        "step 'ask_experience' (ask): config.pass needs on_fail (where to go when the answer "
        "fails)",
    ),
    case(
        "an ask on_timeout needs a timeout",
        lambda d: config(d, "ask_visa").pop("timeout_minutes"),
        "step 'ask_visa' (ask): config.on_timeout needs timeout_minutes (the question never "
        "times out)",
    ),
    case(
        "an ask field must be a slug",
        lambda d: config(d, "ask_start").update(field="Start?"),
        f"step 'ask_start' (ask): config.field must be a slug ({SLUG_HELP}), got 'Start?'",
        alone=False,  # and answers.start_weeks is now stored by nobody
    ),
    # -- step references
    case(
        "on_fail must name a step",
        lambda d: config(d, "ask_visa").update(on_fail="rejct"),
        "step 'ask_visa' (ask): config.on_fail names no step 'rejct'",
    ),
    case(
        "next must name a step",
        lambda d: config(d, "book").update(next="qualfy"),
        "step 'book' (send_message): config.next names no step 'qualfy'",
    ),
    case(
        "a branch's else must name a step",
        lambda d: config(d, "soon").update({"else": "nowhere"}),
        "step 'soon' (branch): config.else names no step 'nowhere'",
    ),
    case(
        "a branch needs then",
        lambda d: config(d, "soon").pop("then"),
        "step 'soon' (branch): config.then is missing",
    ),
    case(
        "a wait's on_event must name a step",
        lambda d: config(d, "follow_up").update(on_event=3),
        "step 'follow_up' (wait): config.on_event must be a step key, got 3",
    ),
    case(
        "advance_stage must name a stage",
        lambda d: config(d, "to_interview").update(stage="interveiw"),
        "step 'to_interview' (advance_stage): config.stage names no stage 'interveiw'",
    ),
    # -- templates and conditions see the journey document
    case(
        "a template path must be a journey path",
        lambda d: config(d, "nudge").update(template="Hi {contact.age}"),
        "step 'nudge' (send_message): template (position 3): unknown path 'contact.age' "
        f"(known: {JOURNEY_PATHS_HELP})",
    ),
    case(
        "a question must be a well-formed template",
        lambda d: config(d, "ask_start").update(question="How many {weeks?"),
        "step 'ask_start' (ask): question (position 9): unclosed '{' (write '{{' for a literal "
        "brace)",
    ),
    case(
        "a retry prompt may repeat the question but names no other unknown placeholder",
        lambda d: config(d, "ask_visa").update(retry_prompt="Sorry! {question} {answer}"),
        Sub("step 'ask_visa' (ask): retry_prompt (position 18): unknown path 'answer'"),
    ),
    case(
        "a retry prompt must be text",
        lambda d: config(d, "ask_visa").update(retry_prompt=["yes", "no"]),
        "step 'ask_visa' (ask): retry_prompt: must be text, got list",
    ),
    case(
        "a handoff reason cannot use signal-only paths",
        lambda d: config(d, "qualify").update(reason="From {type}"),
        Sub("step 'qualify' (handoff): reason (position 5): unknown path 'type'"),
    ),
    case(
        "a field update is a template",
        lambda d: config(d, "save_name")["set"].update({"contact.name": "{contact.age}"}),
        Sub("step 'save_name' (update_fields): set['contact.name'] (position 0): unknown path"),
    ),
    case(
        "only some fields can be set",
        lambda d: config(d, "save_name")["set"].update({"contact.external_id": "x"}),
        "step 'save_name' (update_fields): config.set: 'contact.external_id' cannot be set "
        "(settable: contact.name, contact.email, contact.phone, contact.timezone, account.name)",
    ),
    case(
        "a field update sets something",
        lambda d: config(d, "save_name").update(set={}),
        "step 'save_name' (update_fields): config.set must be a non-empty object like "
        '{"contact.name": "..."}, got an object',
    ),
    case(
        "a branch condition is checked against journey paths",
        lambda d: config(d, "soon").update(condition={"all": [{"path": "contact.age"}]}),
        "step 'soon' (branch): config.condition.all[0]: missing 'op', 'value' (use all/any/not "
        "or path/op/value)",
    ),
    case(
        "a branch condition names where the bad path is",
        lambda d: config(d, "soon")["condition"].update(path="contact.age"),
        Sub("step 'soon' (branch): config.condition.path: unknown path 'contact.age'"),
    ),
    case(
        "a branch condition must be a condition",
        lambda d: config(d, "soon").update(condition="weeks <= 12"),
        "step 'soon' (branch): config.condition: must be an object (all/any/not or path/op/value), "
        "got text",
    ),
    case(
        "a condition on an answer nobody asks for is refused",
        lambda d: config(d, "soon")["condition"].update(path="answers.start_week"),
        "step 'soon' (branch): config.condition names answers.start_week but no ask step stores "
        "'start_week'",
    ),
    case(
        "a template using an answer nobody asks for is refused",
        lambda d: config(d, "qualify").update(reason="Visa: {answers.visa_status}"),
        "step 'qualify' (handoff): reason names answers.visa_status but no ask step stores "
        "'visa_status'",
    ),
    # -- waits
    case(
        "a wait needs a way to end",
        lambda d: find(d, "follow_up").update(config={}),
        "step 'follow_up' (wait): a wait needs minutes or until — it would never end",
    ),
    case(
        "a wait's until is reply or a signal type",
        lambda d: config(d, "follow_up").update(until="meeting_booked"),
        "step 'follow_up' (wait): config.until 'meeting_booked' is neither \"reply\" nor a signal "
        "type (known: form_submitted, interview_booked)",
    ),
    case(
        "a wait's until must be text",
        lambda d: config(d, "follow_up").update(until=True),
        "step 'follow_up' (wait): config.until must be \"reply\" or a signal type, got true",
    ),
    case(
        "a wait's on_event needs until",
        lambda d: config(d, "follow_up").pop("until"),
        "step 'follow_up' (wait): config.on_event needs until (there is nothing to wait for)",
    ),
    case(
        "a wait's on_timeout needs minutes",
        lambda d: config(d, "follow_up").pop("minutes"),
        "step 'follow_up' (wait): config.on_timeout needs minutes (the wait never times out)",
    ),
    # -- reachability
    case(
        "a step after an end that nothing names is unreachable",
        lambda d: d["steps"].insert(
            position(d, "done") + 1,
            step("orphan", "interview", "send_message", {"channel": "sms", "template": "Hi"}),
        ),
        "step 'orphan': cannot be reached from the start",
    ),
    case(
        "a step only reached by a removed route is unreachable",
        lambda d: config(d, "ask_visa").update(on_timeout="follow_up"),
        "step 'nudge': cannot be reached from the start",
    ),
    case(
        "steps before the start are unreachable",
        lambda d: d.update(start="ask_experience"),
        "step 'ask_visa': cannot be reached from the start",
        alone=False,  # and so are the steps only ask_visa leads to
    ),
]


@pytest.mark.parametrize(("mutate", "expected", "alone"), CASES)
def test_each_mistake_is_named_where_it_is(mutate: Mutation, expected: str, alone: bool) -> None:
    definition = copy.deepcopy(RECRUITMENT)
    replaced = mutate(definition)
    if isinstance(replaced, Replace):
        definition = replaced[0]
    errors = definition_errors(definition, teams=TEAMS, signal_types=SIGNAL_TYPES)
    if isinstance(expected, Sub):
        assert any(expected in error for error in errors), errors
    else:
        assert expected in errors, errors
    if alone:
        assert len(errors) == 1, errors


def test_every_problem_is_reported_at_once() -> None:
    definition = copy.deepcopy(RECRUITMENT)
    config(definition, "ask_visa").update(on_fail="rejct")
    find(definition, "qualify").update(team=None)
    find(definition, "follow_up").update(config={"on_event": "ask_visa", "on_timeout": "reject"})
    config(definition, "nudge").update(template="Hi {contact.age}")
    assert definition_errors(definition) == [
        "step 'ask_visa' (ask): config.on_fail names no step 'rejct'",
        "step 'qualify' (handoff): needs a team",
        f"step 'nudge' (send_message): template (position 3): unknown path 'contact.age' "
        f"(known: {JOURNEY_PATHS_HELP})",
        "step 'follow_up' (wait): a wait needs minutes or until — it would never end",
        "step 'follow_up' (wait): config.on_event needs until (there is nothing to wait for)",
        "step 'follow_up' (wait): config.on_timeout needs minutes (the wait never times out)",
    ]


def test_the_last_step_may_fall_off_the_end_and_loops_are_allowed() -> None:
    definition = {
        "stages": [{"key": "s", "name": "S", "loop_stage": "adopt"}],
        "steps": [
            step("wait", "s", "wait", {"until": "reply", "on_event": "tip"}),
            step("tip", "s", "send_message", {"channel": "chat", "template": "Tip!"}),
            step("again", "s", "wait", {"minutes": 60, "on_timeout": "wait"}),
        ],
    }
    # `wait` has one exit (a reply, to `tip`); `tip` falls through to `again`, which loops back.
    assert definition_errors(definition) == []


def test_routes_the_runner_falls_back_on_are_accepted() -> None:
    definition = copy.deepcopy(RECRUITMENT)
    # No on_timeout: a timeout goes to on_fail (reject). No pass: on_fail is where an answer
    # that cannot be read, even asked twice, goes. A wait's exits without a target go to next.
    config(definition, "ask_visa").pop("on_timeout")
    config(definition, "ask_start")["on_fail"] = "reject"
    config(definition, "follow_up").pop("on_timeout")
    config(definition, "follow_up")["next"] = "reject"
    definition["steps"].insert(
        position(definition, "ask_start"),
        step("nudge_again", "screen", "send_message", {"channel": "sms", "template": "Hi"}),
    )
    config(definition, "ask_experience")["next"] = "ask_start"
    # Only reachability complains: nothing leads to the steps the removed routes led to.
    assert definition_errors(definition) == [
        "step 'nudge_again': cannot be reached from the start",
        "step 'nudge': cannot be reached from the start",
        "step 'follow_up': cannot be reached from the start",
    ]


def test_a_wait_without_an_exit_target_goes_on_to_the_next_step() -> None:
    definition = {
        "stages": [{"key": "s", "name": "S", "loop_stage": "expand"}],
        "steps": [
            step("pause", "s", "wait", {"minutes": 30}),
            step("bye", "s", "end", {"outcome": "completed"}),
        ],
    }
    assert definition_errors(definition) == []
    definition["steps"][0]["config"]["on_timeout"] = "pause"
    assert definition_errors(definition) == ["step 'bye': cannot be reached from the start"]


def test_a_branch_never_falls_through() -> None:
    definition = {
        "stages": [{"key": "s", "name": "S", "loop_stage": "expand"}],
        "steps": [
            step(
                "pick",
                "s",
                "branch",
                {"condition": {"all": []}, "then": "yes", "else": "yes"},
            ),
            step("skipped", "s", "end", {"outcome": "dropped"}),
            step("yes", "s", "end", {"outcome": "completed"}),
        ],
    }
    assert definition_errors(definition) == ["step 'skipped': cannot be reached from the start"]


# ---- the help and the tables other modules rely on -------------------------------------------


def test_every_kind_is_described_and_has_its_config() -> None:
    assert list(STEP_KINDS) == KINDS.split(", ")
    assert set(CONFIG_KEYS) == set(STEP_KINDS)
    assert all(description.strip() for description in STEP_KINDS.values())
    for kind in STEP_KINDS:
        assert kind in DEFINITION_HELP


def test_the_plain_choices_match_the_models() -> None:
    from handoffs.choices import Channel, Priority, Trigger
    from journeys.choices import LoopStage
    from portal.choices import Role

    assert tuple(LoopStage.values) == LOOP_STAGES
    assert tuple(Priority.values) == PRIORITIES
    assert tuple(Role.values) == ROLES
    assert set(TRIGGERS) <= set(Trigger.values)
    assert set(CHANNELS) == {"auto", *Channel.values}


# ---- property tests --------------------------------------------------------------------------

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)
ALL_CONFIG_KEYS = sorted({key for keys in CONFIG_KEYS.values() for key in keys})
STEP_KEYS = st.sampled_from(["a", "b", "c", "ask_visa", "Bad Key", ""])
PLAUSIBLE = st.one_of(
    STEP_KEYS,
    JSON,
    st.sampled_from(["reply", "sms", "yes_no", "text", "high", "lead", "{answers.a}", "{x"]),
    st.integers(-5, 600_000),
    st.fixed_dictionaries({"op": st.sampled_from(list(OPERATORS)), "value": JSON}),
    st.fixed_dictionaries({"path": st.sampled_from(["answers.a", "x"]), "op": JSON}),
    st.dictionaries(st.sampled_from(["contact.name", "account.name", "nope"]), JSON),
)
CONFIGS = st.dictionaries(st.sampled_from(ALL_CONFIG_KEYS), PLAUSIBLE, max_size=6) | JSON
STEPS = st.fixed_dictionaries(
    {"key": STEP_KEYS, "kind": st.sampled_from(list(STEP_KINDS))},
    optional={
        "stage": st.sampled_from(["s", "t"]) | JSON,
        "mode": st.sampled_from(["automation", "human", "hybrid"]) | JSON,
        "team": st.sampled_from([None, "recruiters", "ghosts"]) | JSON,
        "config": CONFIGS,
    },
)
DEFINITIONS = st.fixed_dictionaries(
    {
        "stages": st.lists(
            st.fixed_dictionaries(
                {"key": st.sampled_from(["s", "t"]) | JSON, "name": JSON, "loop_stage": JSON}
            )
            | JSON,
            max_size=3,
        ),
        "steps": st.lists(STEPS | JSON, max_size=6),
    },
    optional={"start": STEP_KEYS | JSON, "name": JSON},
)


def assert_well_formed(errors: object) -> None:
    assert isinstance(errors, list)
    for error in errors:
        assert isinstance(error, str)
        assert error.startswith(("definition: ", "stage ", "step ")), error


@given(JSON)
@settings(max_examples=300)
def test_any_json_is_judged_without_raising(value: object) -> None:
    assert_well_formed(definition_errors(value, teams=TEAMS, signal_types=SIGNAL_TYPES))


@given(DEFINITIONS)
@settings(max_examples=500)
def test_near_definitions_are_judged_without_raising(definition: dict[str, Any]) -> None:
    assert_well_formed(definition_errors(definition))
    assert_well_formed(definition_errors(definition, teams=TEAMS, signal_types=SIGNAL_TYPES))


def _replace_somewhere(value: Any, path: list[int], new: Any) -> Any:
    """Swap the sub-value that `path` (indexes taken modulo each container's size) leads to."""
    if not path or not isinstance(value, dict | list) or not value:
        return new
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    copied = copy.copy(value)
    copied[key] = _replace_somewhere(value[key], path[1:], new)
    return copied


@given(st.lists(st.integers(0, 50), max_size=6), JSON)
@settings(max_examples=500)
def test_a_valid_journey_with_any_part_replaced_is_judged_without_raising(
    path: list[int], new: Any
) -> None:
    assert_well_formed(definition_errors(_replace_somewhere(RECRUITMENT, path, new)))
