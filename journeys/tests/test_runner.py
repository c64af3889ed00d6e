"""Tests for the journey step machine (pure Python, no DB): (state, event) → actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeys.runner import DISCLOSURE, STEP_BUDGET, Action, Outcome, advance

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=5)
START = {"kind": "start"}
DUE = {"kind": "due"}
RESUMED = {"kind": "resumed"}

CONTEXT: dict[str, Any] = {
    "contact": {
        "external_id": "c-1",
        "name": "Ada Lovelace",
        "first_name": "Ada",
        "email": "ada@example.com",
        "phone": "+447700900001",
        "timezone": "Europe/London",
    },
    "account": {"external_id": "a-1", "name": "Analytical Engines Ltd"},
    "properties": {"booking_url": "https://book.example.com/ada", "budget": 60000},
    "journey": {"name": "Recruitment"},
}


def step(key: str, kind: str, team: str | None = None, **config: Any) -> dict[str, Any]:
    mode = "human" if kind == "handoff" else "automation"
    return {
        "key": key,
        "stage": "screen",
        "kind": kind,
        "mode": mode,
        "team": team,
        "config": config,
    }


RECRUITMENT: dict[str, Any] = {
    "name": "Recruitment",
    "start": "ask_visa",
    "stages": [{"key": "screen", "name": "Screening", "loop_stage": "acquire"}],
    "steps": [
        step(
            "ask_visa",
            "ask",
            channel="sms",
            question="Hi {contact.first_name}, do you have a UK work visa?",
            field="visa",
            expect="yes_no",
            on_fail="reject",
            next="ask_experience",
            timeout_minutes=2880,
            on_timeout="no_reply",
            **{"pass": {"op": "==", "value": True}},
        ),
        step(
            "ask_experience",
            "ask",
            channel="sms",
            question="How many years of warehouse experience do you have?",
            field="experience",
            expect="years",
            on_fail="reject",
            timeout_minutes=2880,
            on_timeout="no_reply",
            **{"pass": {"op": ">=", "value": 1}},
        ),
        step(
            "ask_notice",
            "ask",
            channel="sms",
            question="What is your notice period?",
            field="notice",
            expect="weeks",
            on_fail="reject",
            timeout_minutes=2880,
            on_timeout="no_reply",
            **{"pass": {"op": "<=", "value": 4}},
        ),
        step(
            "send_booking",
            "send_message",
            channel="sms",
            template="Great news {contact.first_name}! Book your interview: "
            "{properties.booking_url}",
        ),
        step(
            "interview",
            "handoff",
            team="recruiting",
            role="recruiter",
            priority="high",
            trigger="qualification",
            reason="Visa: {answers.visa}, experience: {answers.experience} years, "
            "notice: {answers.notice} weeks",
            sla_minutes=240,
            next="done",
        ),
        step("done", "end", outcome="completed"),
        step(
            "reject",
            "send_message",
            channel="sms",
            template="Thank you {contact.first_name}. We can't take your application further "
            "this time, and we wish you the best of luck.",
            next="dropped",
        ),
        step("dropped", "end", outcome="dropped"),
        step("no_reply", "end", outcome="dropped"),
    ],
}

Q_VISA = "Hi Ada, do you have a UK work visa?" + DISCLOSURE
Q_EXPERIENCE = "How many years of warehouse experience do you have?" + DISCLOSURE
Q_NOTICE = "What is your notice period?" + DISCLOSURE
RETRY_VISA = "Sorry, I didn't catch that. Hi Ada, do you have a UK work visa?" + DISCLOSURE
RETRY_EXPERIENCE = (
    "Sorry, I didn't catch that. How many years of warehouse experience do you have?" + DISCLOSURE
)
BOOKING = "Great news Ada! Book your interview: https://book.example.com/ada" + DISCLOSURE
REJECTION = (
    "Thank you Ada. We can't take your application further this time, and we wish you the best "
    "of luck." + DISCLOSURE
)

FOLLOW_UP: dict[str, Any] = {
    "name": "Follow-up",
    "stages": [{"key": "nurture", "name": "Nurture", "loop_stage": "acquire"}],
    "steps": [
        step(
            "intro",
            "send_message",
            channel="email",
            template="Hi {contact.first_name}, thanks for your interest in {journey.name}.",
        ),
        step(
            "wait_reply",
            "wait",
            until="reply",
            minutes=4320,
            on_event="replied",
            on_timeout="nudge",
        ),
        step(
            "nudge",
            "send_message",
            channel="auto",
            template="Just checking in, {contact.first_name}: any questions?",
            next="done",
        ),
        step("done", "end", outcome="completed"),
        step("replied", "end", outcome="completed"),
    ],
}
INTRO = "Hi Ada, thanks for your interest in Recruitment." + DISCLOSURE
NUDGE = "Just checking in, Ada: any questions?" + DISCLOSURE

PAUSE: dict[str, Any] = {
    "name": "Pause",
    "steps": [
        step("hello", "send_message", channel="sms", template="Hello", disclose=False),
        step("pause", "wait", minutes=60),
        step("bye", "send_message", channel="sms", template="Bye", disclose=False),
    ],
}

DEMO: dict[str, Any] = {
    "name": "Demo",
    "steps": [
        step("await_demo", "wait", until="demo_booked", on_event="booked"),
        step("not_booked", "end", outcome="dropped"),
        step("booked", "send_message", channel="email", template="See you at the demo!"),
    ],
}

BRANCHING: dict[str, Any] = {
    "name": "Branching",
    "steps": [
        step(
            "check_budget",
            "branch",
            condition={"path": "properties.budget", "op": ">=", "value": 50000},
            then="promote",
            **{"else": "standard"},
        ),
        step("promote", "advance_stage", stage="qualified"),
        step("rename", "update_fields", set={"contact.name": "{contact.first_name} (VIP)"}),
        step("vip_hello", "send_message", channel="email", template="Welcome, {contact.name}."),
        step("vip_done", "end", outcome="completed"),
        step("standard", "send_message", channel="email", template="Thanks, {contact.name}."),
    ],
}


def play(
    definition: dict[str, Any], events: list[dict[str, Any]], context: dict[str, Any] = CONTEXT
) -> list[Outcome]:
    """Start the journey, then feed `events`, one hour apart; every outcome in order."""
    outcomes = [advance(definition, None, START, NOW, context)]
    for hour, event in enumerate(events, start=1):
        when = NOW + timedelta(hours=hour)
        outcomes.append(advance(definition, outcomes[-1].state, event, when, context))
    return outcomes


def reply(text: str) -> dict[str, Any]:
    return {"kind": "reply", "text": text, "channel": "sms"}


def sent(outcomes: list[Outcome]) -> list[str]:
    return [a.data["body"] for o in outcomes for a in o.actions if a.kind == "send"]


def effects(outcome: Outcome) -> list[Action]:
    """Every action but the timeline lines."""
    return [action for action in outcome.actions if action.kind != "log"]


def logs(outcome: Outcome) -> list[tuple[str | None, str]]:
    return [(a.data["step"], a.data["kind"]) for a in outcome.actions if a.kind == "log"]


def state(step_key: str | None, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "step": step_key,
        "answers": extra.get("answers", {}),
        "asked": extra.get("asked", False),
        "retried": extra.get("retried", False),
        "due_at": extra.get("due_at"),
        "status": status,
    }


# ---- the recruitment journey, replayed as scripts -------------------------------------------

PASSED = "paused_for_human"
SCRIPTS = [
    pytest.param(
        ["yep", "2 years", "2 weeks"],
        [Q_VISA, Q_EXPERIENCE, Q_NOTICE, BOOKING],
        {"visa": True, "experience": 2, "notice": 2},
        PASSED,
        id="a candidate who passes all three questions gets the booking link and a recruiter",
    ),
    pytest.param(
        ["👍", "18 months", "immediately"],
        [Q_VISA, Q_EXPERIENCE, Q_NOTICE, BOOKING],
        {"visa": True, "experience": 1.5, "notice": 0},
        PASSED,
        id="emoji months and immediately are read and pass",
    ),
    pytest.param(
        ["no visa"],
        [Q_VISA, REJECTION],
        {"visa": False},
        "dropped",
        id="no visa gets the polite rejection and is dropped",
    ),
    pytest.param(
        ["yes", "6 months"],
        [Q_VISA, Q_EXPERIENCE, REJECTION],
        {"visa": True, "experience": 0.5},
        "dropped",
        id="too little experience gets the rejection",
    ),
    pytest.param(
        ["yes", "3 years", "3 months"],
        [Q_VISA, Q_EXPERIENCE, Q_NOTICE, REJECTION],
        {"visa": True, "experience": 3, "notice": 12},
        "dropped",
        id="too long a notice period gets the rejection",
    ),
    pytest.param(
        ["yes", "a year", "a month"],
        [Q_VISA, Q_EXPERIENCE, Q_NOTICE, BOOKING],
        {"visa": True, "experience": 1, "notice": 4},
        PASSED,
        id="answers exactly on the thresholds pass",
    ),
    pytest.param(
        ["maybe", "yes", "two years", "no notice"],
        [Q_VISA, RETRY_VISA, Q_EXPERIENCE, Q_NOTICE, BOOKING],
        {"visa": True, "experience": 2, "notice": 0},
        PASSED,
        id="an unreadable answer is asked again once and a clear answer then goes on",
    ),
    pytest.param(
        ["maybe", "what visa?"],
        [Q_VISA, RETRY_VISA, REJECTION],
        {},
        "dropped",
        id="a second unreadable answer takes the fail path",
    ),
    pytest.param(
        ["yes", "lots", "5+ years", "4"],
        [Q_VISA, Q_EXPERIENCE, RETRY_EXPERIENCE, Q_NOTICE, BOOKING],
        {"visa": True, "experience": 5, "notice": 4},
        PASSED,
        id="the retry is per question so a later question can be retried too",
    ),
]


@pytest.mark.parametrize(("replies", "bodies", "answers", "status"), SCRIPTS)
def test_recruitment_scripts(
    replies: list[str], bodies: list[str], answers: dict[str, Any], status: str
) -> None:
    outcomes = play(RECRUITMENT, [reply(text) for text in replies])
    assert sent(outcomes) == bodies
    assert outcomes[-1].state["answers"] == answers
    assert outcomes[-1].status == status
    assert outcomes[-1].state["step"] == ("interview" if status == PASSED else None)


def test_start_sends_the_first_question_with_disclosure_and_waits_for_a_reply() -> None:
    outcome = advance(RECRUITMENT, None, START, NOW, CONTEXT)
    due = NOW + timedelta(minutes=2880)
    assert DISCLOSURE == "\n\n— Baton assistant (automated message)"
    assert effects(outcome) == [
        Action("send", {"channel": "sms", "body": Q_VISA, "automated": True, "step": "ask_visa"})
    ]
    assert outcome.status == "active"
    assert outcome.due_at == due
    assert outcome.waiting_for == "reply"
    assert outcome.state == state("ask_visa", "active", asked=True, due_at=due.isoformat())


def test_yep_passes_to_the_second_question() -> None:
    first = advance(RECRUITMENT, None, START, NOW, CONTEXT)
    outcome = advance(RECRUITMENT, first.state, reply("yep"), LATER, CONTEXT)
    due = LATER + timedelta(minutes=2880)
    assert [a.data["body"] for a in effects(outcome)] == [Q_EXPERIENCE]
    assert outcome.state == state(
        "ask_experience", "active", answers={"visa": True}, asked=True, due_at=due.isoformat()
    )
    assert (outcome.status, outcome.due_at, outcome.waiting_for) == ("active", due, "reply")


def test_an_unreadable_answer_sends_the_retry_prompt_and_restarts_the_timeout() -> None:
    first = advance(RECRUITMENT, None, START, NOW, CONTEXT)
    outcome = advance(RECRUITMENT, first.state, reply("maybe"), LATER, CONTEXT)
    due = LATER + timedelta(minutes=2880)
    assert effects(outcome) == [
        Action(
            "send", {"channel": "sms", "body": RETRY_VISA, "automated": True, "step": "ask_visa"}
        )
    ]
    assert outcome.state == state(
        "ask_visa", "active", asked=True, retried=True, due_at=due.isoformat()
    )
    assert (outcome.status, outcome.due_at, outcome.waiting_for) == ("active", due, "reply")
    assert outcome.actions[0] == Action(
        "log",
        {
            "step": "ask_visa",
            "kind": "answer",
            "summary": "Could not read the answer to visa: no yes/no in 'maybe'",
        },
    )


def test_a_custom_retry_prompt_is_rendered_with_the_question() -> None:
    definition = {
        "name": "Custom",
        "steps": [
            step(
                "ask",
                "ask",
                question="Visa, {contact.first_name}?",
                field="visa",
                expect="yes_no",
                retry_prompt="{contact.first_name}, yes or no please. {question}",
            )
        ],
    }
    outcomes = play(definition, [reply("hmm")])
    assert sent(outcomes) == [
        "Visa, Ada?" + DISCLOSURE,
        "Ada, yes or no please. Visa, Ada?" + DISCLOSURE,
    ]
    assert outcomes[0].actions[1].data["channel"] == "auto"
    assert (outcomes[1].due_at, outcomes[1].waiting_for) == (None, "reply")


def test_passing_every_question_raises_the_qualification_handoff_with_the_answers() -> None:
    outcome = play(RECRUITMENT, [reply("yes"), reply("2 years"), reply("10 days")])[-1]
    assert effects(outcome) == [
        Action(
            "send",
            {"channel": "sms", "body": BOOKING, "automated": True, "step": "send_booking"},
        ),
        Action(
            "raise_handoff",
            {
                "team": "recruiting",
                "role": "recruiter",
                "priority": "high",
                "trigger": "qualification",
                "reason": "Visa: yes, experience: 2 years, notice: 1.43 weeks",
                "sla_minutes": 240,
                "step": "interview",
            },
        ),
    ]
    assert (outcome.status, outcome.due_at, outcome.waiting_for) == (PASSED, None, None)
    assert outcome.state == state(
        "interview", PASSED, answers={"visa": True, "experience": 2, "notice": 1.43}
    )


def test_resuming_after_the_interview_handoff_completes_the_journey() -> None:
    outcomes = play(RECRUITMENT, [reply("yes"), reply("2 years"), reply("2 weeks"), RESUMED])
    outcome = outcomes[-1]
    assert effects(outcome) == []
    assert logs(outcome) == [("interview", "resumed"), ("done", "entered"), ("done", "ended")]
    assert (outcome.status, outcome.due_at, outcome.waiting_for) == ("completed", None, None)
    assert outcome.state == state(
        None, "completed", answers={"visa": True, "experience": 2, "notice": 2}
    )


def test_a_handoff_without_next_resumes_at_the_following_step() -> None:
    definition = {
        "name": "Handoff",
        "steps": [
            step("call", "handoff", team="sales", reason="Call {contact.name}"),
            step("thanks", "send_message", channel="email", template="Thanks!", disclose=False),
        ],
    }
    outcomes = play(definition, [RESUMED])
    assert effects(outcomes[0]) == [
        Action(
            "raise_handoff",
            {
                "team": "sales",
                "role": None,
                "priority": "normal",
                "trigger": "stage",
                "reason": "Call Ada Lovelace",
                "sla_minutes": None,
                "step": "call",
            },
        )
    ]
    assert sent(outcomes) == ["Thanks!"]
    assert outcomes[-1].status == "completed"


def test_no_reply_by_the_due_time_follows_on_timeout() -> None:
    outcome = play(RECRUITMENT, [DUE])[-1]
    assert effects(outcome) == []
    assert logs(outcome) == [
        ("ask_visa", "timeout"),
        ("no_reply", "entered"),
        ("no_reply", "ended"),
    ]
    assert (outcome.status, outcome.state["step"], outcome.due_at) == ("dropped", None, None)


def test_a_paused_enrollment_ignores_everything_but_resumed() -> None:
    paused = play(RECRUITMENT, [reply("yes"), reply("2 years"), reply("2 weeks")])[-1]
    for event in (reply("hello?"), DUE, START, {"kind": "signal", "type": "demo_booked"}):
        outcome = advance(RECRUITMENT, paused.state, event, LATER, CONTEXT)
        assert outcome == Outcome(paused.state, [], PASSED, None, None)


# ---- the follow-up journey: a wait for a reply with a 3-day timeout ------------------------


def test_the_follow_up_starts_with_the_intro_and_waits_three_days_for_a_reply() -> None:
    outcome = advance(FOLLOW_UP, None, START, NOW, CONTEXT)
    due = NOW + timedelta(minutes=4320)
    assert effects(outcome) == [
        Action("send", {"channel": "email", "body": INTRO, "automated": True, "step": "intro"})
    ]
    assert logs(outcome) == [
        ("intro", "entered"),
        ("wait_reply", "entered"),
        ("wait_reply", "waiting"),
    ]
    assert outcome.actions[-1].data["summary"] == (
        "Waiting for a reply until 24 Nov 2026 10:00 UTC"
    )
    assert (outcome.status, outcome.due_at, outcome.waiting_for) == ("active", due, "reply")
    assert outcome.state == state("wait_reply", "active", due_at=due.isoformat())


def test_silence_for_three_days_sends_the_nudge_exactly_once_and_completes() -> None:
    outcomes = play(FOLLOW_UP, [DUE, DUE, reply("sorry, yes!")])
    assert sent(outcomes) == [INTRO, NUDGE]
    assert effects(outcomes[1]) == [
        Action("send", {"channel": "auto", "body": NUDGE, "automated": True, "step": "nudge"})
    ]
    assert [o.status for o in outcomes] == ["active", "completed", "completed", "completed"]
    assert outcomes[2].actions == [] and outcomes[3].actions == []


def test_a_reply_before_the_timeout_ends_the_follow_up_without_a_nudge() -> None:
    outcomes = play(FOLLOW_UP, [reply("Yes, tell me more"), DUE])
    assert sent(outcomes) == [INTRO]
    assert logs(outcomes[1]) == [
        ("wait_reply", "event"),
        ("replied", "entered"),
        ("replied", "ended"),
    ]
    assert [o.status for o in outcomes] == ["active", "completed", "completed"]
    assert (outcomes[2].actions, outcomes[2].due_at) == ([], None)


def test_a_reply_during_a_duration_only_wait_changes_nothing() -> None:
    waiting = advance(PAUSE, None, START, NOW, CONTEXT)
    due = NOW + timedelta(minutes=60)
    assert (waiting.due_at, waiting.waiting_for, sent([waiting])) == (due, None, ["Hello"])
    outcome = advance(PAUSE, waiting.state, reply("hi there"), NOW + timedelta(minutes=30), CONTEXT)
    assert outcome == Outcome(waiting.state, [], "active", due, None)


def test_a_duration_only_wait_goes_on_when_it_is_due_and_falls_off_the_end_completed() -> None:
    outcomes = play(PAUSE, [DUE])
    assert sent(outcomes) == ["Hello", "Bye"]
    assert logs(outcomes[1]) == [
        ("pause", "timeout"),
        ("bye", "entered"),
        (None, "ended"),
    ]
    assert outcomes[1].state == state(None, "completed")


def test_a_signal_wait_ignores_other_signals_and_follows_on_event_for_its_own() -> None:
    waiting = advance(DEMO, None, START, NOW, CONTEXT)
    assert (waiting.due_at, waiting.waiting_for) == (None, "demo_booked")
    other = advance(DEMO, waiting.state, {"kind": "signal", "type": "nps"}, LATER, CONTEXT)
    assert other == Outcome(waiting.state, [], "active", None, "demo_booked")
    a_reply = advance(DEMO, waiting.state, reply("booked it"), LATER, CONTEXT)
    assert a_reply == Outcome(waiting.state, [], "active", None, "demo_booked")
    booked = advance(DEMO, waiting.state, {"kind": "signal", "type": "demo_booked"}, LATER, CONTEXT)
    assert sent([booked]) == ["See you at the demo!" + DISCLOSURE]
    assert booked.status == "completed"


NOT_APPLICABLE = [
    pytest.param(START, id="a second start"),
    pytest.param(RESUMED, id="resumed while nothing is paused"),
    pytest.param({"kind": "signal", "type": "reply"}, id="a signal while asking"),
    pytest.param({"kind": "unheard_of"}, id="an unknown event kind"),
    pytest.param({}, id="an event without a kind"),
]


@pytest.mark.parametrize("event", NOT_APPLICABLE)
def test_an_event_that_does_not_apply_returns_the_same_state_and_due_time(
    event: dict[str, Any],
) -> None:
    asking = advance(RECRUITMENT, None, START, NOW, CONTEXT)
    outcome = advance(RECRUITMENT, asking.state, event, LATER, CONTEXT)
    assert outcome == Outcome(asking.state, [], "active", asking.due_at, "reply")


def test_a_documented_state_without_due_at_keeps_a_timer_rather_than_losing_it() -> None:
    legacy = {"step": "pause", "answers": {}, "asked": False, "retried": False}
    outcome = advance(PAUSE, legacy, reply("hi"), LATER, CONTEXT)
    due = LATER + timedelta(minutes=60)
    assert outcome == Outcome(
        state("pause", "active", due_at=due.isoformat()), [], "active", due, None
    )


def test_a_documented_state_without_status_still_reads_the_answer() -> None:
    legacy = {"step": "ask_visa", "answers": {}, "asked": True, "retried": False}
    outcome = advance(RECRUITMENT, legacy, reply("nope"), LATER, CONTEXT)
    assert sent([outcome]) == [REJECTION]
    assert outcome.state == state(None, "dropped", answers={"visa": False})


def test_an_event_after_the_end_keeps_a_dropped_enrollment_dropped() -> None:
    ended = play(RECRUITMENT, [reply("no")])[-1]
    outcome = advance(RECRUITMENT, ended.state, reply("wait, yes!"), LATER, CONTEXT)
    assert outcome == Outcome(
        state(None, "dropped", answers={"visa": False}), [], "dropped", None, None
    )


# ---- branch, update_fields, advance_stage ---------------------------------------------------

BRANCHES = [
    pytest.param(
        60000,
        [
            Action("set_stage", {"stage": "qualified"}),
            Action("set_fields", {"contact.name": "Ada (VIP)"}),
            Action(
                "send",
                {
                    "channel": "email",
                    "body": "Welcome, Ada (VIP)." + DISCLOSURE,
                    "automated": True,
                    "step": "vip_hello",
                },
            ),
        ],
        "Branch check_budget: the condition held; going to promote",
        id="a budget over the line takes then and later steps see the updated name",
    ),
    pytest.param(
        500,
        [
            Action(
                "send",
                {
                    "channel": "email",
                    "body": "Thanks, Ada Lovelace." + DISCLOSURE,
                    "automated": True,
                    "step": "standard",
                },
            )
        ],
        "Branch check_budget: the condition did not hold; going to standard",
        id="a small budget takes else",
    ),
]


@pytest.mark.parametrize(("budget", "expected", "summary"), BRANCHES)
def test_a_branch_picks_then_or_else(budget: int, expected: list[Action], summary: str) -> None:
    context = {**CONTEXT, "properties": {"budget": budget}}
    outcome = advance(BRANCHING, None, START, NOW, context)
    assert effects(outcome) == expected
    assert outcome.actions[1] == Action(
        "log", {"step": "check_budget", "kind": "branch", "summary": summary}
    )
    assert (outcome.status, outcome.state["step"]) == ("completed", None)


def test_a_branch_on_an_answer_sees_the_stored_answers() -> None:
    definition = {
        "name": "Answer branch",
        "steps": [
            step("ask", "ask", question="Seats?", field="seats", expect="number"),
            step(
                "big",
                "branch",
                condition={"path": "answers.seats", "op": ">", "value": 100},
                then="sales",
                **{"else": "self_serve"},
            ),
            step("sales", "end", outcome="completed"),
            step("self_serve", "end", outcome="dropped"),
        ],
    }
    assert play(definition, [reply("about 250")])[-1].status == "completed"
    assert play(definition, [reply("twenty")])[-1].status == "dropped"


def test_every_step_entered_is_logged_in_order() -> None:
    outcome = advance(BRANCHING, None, START, NOW, CONTEXT)
    assert logs(outcome) == [
        ("check_budget", "entered"),
        ("check_budget", "branch"),
        ("promote", "entered"),
        ("rename", "entered"),
        ("vip_hello", "entered"),
        ("vip_done", "entered"),
        ("vip_done", "ended"),
    ]
    assert outcome.actions[0].data["summary"] == "Entered step check_budget (branch)"


def test_reading_an_answer_is_logged_with_its_verdict() -> None:
    outcome = play(RECRUITMENT, [reply("yes"), reply("18 months")])[-1]
    assert outcome.actions[0] == Action(
        "log",
        {
            "step": "ask_experience",
            "kind": "answer",
            "summary": "Read the answer to experience: 1.5 (passed)",
        },
    )


# ---- the fail-safe: a broken automation goes to a person ------------------------------------

LOOPING: dict[str, Any] = {
    "name": "Looping",
    "steps": [
        step("first", "send_message", channel="sms", template="Once", disclose=False),
        step("spin", "branch", condition={"all": []}, then="ping"),
        step("ping", "send_message", channel="sms", template="Ping", disclose=False, next="spin"),
    ],
}


def failsafe(step_key: str | None, reason: str, team: str | None = None) -> Action:
    return Action(
        "raise_handoff",
        {
            "team": team,
            "role": None,
            "priority": "high",
            "trigger": "manual",
            "reason": reason,
            "sla_minutes": None,
            "step": step_key,
        },
    )


def test_a_loop_is_stopped_by_the_step_budget_and_handed_to_a_person() -> None:
    outcome = advance(LOOPING, None, START, NOW, CONTEXT)
    # `first` is entry 1, then spin (even entries) and ping (odd): entry 101 is `ping`.
    assert STEP_BUDGET == 100
    reason = "Journey looped at step ping; a person should check it"
    # One pass through the loop is kept; the 49 repeats of "Ping" are not sent.
    assert effects(outcome) == [
        Action("send", {"channel": "sms", "body": "Once", "automated": True, "step": "first"}),
        Action("send", {"channel": "sms", "body": "Ping", "automated": True, "step": "ping"}),
        failsafe("ping", reason),
    ]
    assert logs(outcome) == [
        ("first", "entered"),
        ("spin", "entered"),
        ("spin", "branch"),
        ("ping", "entered"),
        ("ping", "failsafe"),
    ]
    assert (outcome.status, outcome.due_at, outcome.waiting_for) == (PASSED, None, None)
    assert outcome.state == state("ping", PASSED)


def test_an_unknown_step_at_runtime_is_handed_to_a_person() -> None:
    stale = state("removed_step", "active", answers={"visa": True})
    outcome = advance(RECRUITMENT, stale, reply("yes"), LATER, CONTEXT)
    reason = "Journey step removed_step does not exist; a person should check it"
    assert effects(outcome) == [failsafe("removed_step", reason)]
    assert outcome.status == PASSED
    assert outcome.state == state("removed_step", PASSED, answers={"visa": True})


def test_a_start_naming_a_missing_step_is_handed_to_a_person() -> None:
    outcome = advance({**FOLLOW_UP, "start": "nowhere"}, None, START, NOW, CONTEXT)
    reason = "Journey step nowhere does not exist; a person should check it"
    assert effects(outcome) == [failsafe("nowhere", reason)]


def test_a_step_of_an_unknown_kind_is_handed_to_its_team() -> None:
    definition = {"name": "Odd", "steps": [step("mystery", "teleport", team="success")]}
    outcome = advance(definition, None, START, NOW, CONTEXT)
    reason = "Journey step mystery has an unknown kind; a person should check it"
    assert effects(outcome) == [failsafe("mystery", reason, team="success")]


def test_a_wait_with_no_exit_is_handed_to_a_person() -> None:
    definition = {"name": "Stuck", "steps": [step("forever", "wait")]}
    outcome = advance(definition, None, START, NOW, CONTEXT)
    reason = "Journey step forever waits for nothing; a person should check it"
    assert effects(outcome) == [failsafe("forever", reason)]


def test_a_condition_that_breaks_at_runtime_is_handed_to_a_person_not_raised() -> None:
    definition = {
        "name": "Broken",
        "steps": [
            step("hello", "send_message", template="Hi", disclose=False),
            step("check", "branch", condition={"path": "answers.x"}, then="hello"),
        ],
    }
    outcome = advance(definition, None, START, NOW, CONTEXT)
    reason = "Journey failed at step check (KeyError); a person should check it"
    assert effects(outcome) == [failsafe("check", reason)]
    assert outcome.state == state("check", PASSED)


def test_resuming_after_a_failsafe_tries_the_step_again() -> None:
    looped = advance(LOOPING, None, START, NOW, CONTEXT)
    outcome = advance(LOOPING, looped.state, RESUMED, LATER, CONTEXT)
    reason = "Journey looped at step ping; a person should check it"
    assert effects(outcome) == [
        Action("send", {"channel": "sms", "body": "Ping", "automated": True, "step": "ping"}),
        failsafe("ping", reason),
    ]
    assert outcome.actions[0] == Action(
        "log",
        {
            "step": "ping",
            "kind": "resumed",
            "summary": "Automation resumed by a person at step ping",
        },
    )


def test_the_context_is_optional_and_missing_names_render_as_a_dash() -> None:
    outcome = advance(FOLLOW_UP, None, START, NOW)
    assert sent([outcome]) == ["Hi —, thanks for your interest in —." + DISCLOSURE]


def test_an_empty_journey_completes_at_once() -> None:
    outcome = advance({"name": "Empty", "steps": []}, None, START, NOW, CONTEXT)
    assert (outcome.status, outcome.state["step"], effects(outcome)) == ("completed", None, [])


# ---- properties ------------------------------------------------------------------------------

EVENTS = st.one_of(
    st.builds(reply, st.sampled_from(["yes", "no", "maybe", "2 years", "a month", "", "👍", "?"])),
    st.builds(reply, st.text(max_size=40)),
    st.sampled_from([START, DUE, RESUMED, {"kind": "signal", "type": "demo_booked"}, {}]),
)
DEFINITIONS = st.sampled_from([RECRUITMENT, FOLLOW_UP, PAUSE, DEMO, BRANCHING, LOOPING])


@settings(max_examples=200, deadline=None)
@given(definition=DEFINITIONS, events=st.lists(EVENTS, max_size=8))
def test_any_event_sequence_never_raises_and_every_message_discloses(
    definition: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    for outcome in play(definition, events):
        assert outcome.status in ("active", "paused_for_human", "completed", "dropped")
        assert outcome.state["status"] == outcome.status
        assert (outcome.state["step"] is None) is (outcome.status in ("completed", "dropped"))
        for action in outcome.actions:
            if action.kind == "send" and definition is not PAUSE and definition is not LOOPING:
                assert action.data["body"].endswith(DISCLOSURE)
                assert action.data["automated"] is True
        if outcome.status != "active":
            assert (outcome.due_at, outcome.waiting_for) == (None, None)
