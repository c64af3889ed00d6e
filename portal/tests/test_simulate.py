"""`manage.py simulate`: the scenario generator on its own, and the command against a real server
(uvicorn on pytest's PostgreSQL database, handoffs/tests/e2e_support.py), over HTTP only."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import call_command

from conftest import Org
from handoffs.choices import Direction, Priority, Trigger
from handoffs.models import Handoff, Message
from handoffs.tests import e2e_support as e2e
from journeys.models import Contact, HandoffRule, Signal
from portal.choices import Role
from portal.simulation import (
    ANSWERS,
    EVENT_WEIGHTS,
    INBOUND_PATH,
    SIGNALS_PATH,
    Event,
    Scenario,
)

SKIP_REASON = e2e.why_no_browser_run()
FIXED_NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
HIGH_VALUE_SEED = 25  # its first event is a lead with a budget of 50,000 or more
FOLLOW_UPS = {"activated", "meeting_booked", "deal_won", "deal_lost"}


def stream(scenario: Scenario, count: int, *, confirm: bool = True) -> list[Event]:
    events = []
    for _ in range(count):
        event = scenario.next_event()
        if confirm:
            scenario.confirm(event)
        events.append(event)
    return events


def fixed_scenario(seed: int, run_id: str = "r1") -> Scenario:
    return Scenario(run_id=run_id, seed=seed, clock=lambda: FIXED_NOW)


# ---- the generator ---------------------------------------------------------------------------


def test_a_seeds_stream_does_not_depend_on_confirmations() -> None:
    """Confirmations arrive from other threads, in any order: the n-th event's kind and a new
    lead's details still come from the seed alone."""

    def essence(event: Event) -> tuple[Any, ...]:  # contact numbers differ: fewer were made
        return (event.label, event.body["properties"], event.body["contact"]["name"])

    new_people = {"form_submitted", "application_submitted", "trial_started"}
    unconfirmed = {e.seq: e for e in stream(fixed_scenario(7), 500, confirm=False)}
    confirmed = [e for e in stream(fixed_scenario(7), 500) if e.label in new_people]
    assert len(confirmed) > 100
    for event in confirmed:
        assert essence(event) == essence(unconfirmed[event.seq])

    first = fixed_scenario(HIGH_VALUE_SEED).next_event()
    assert first.label == "form_submitted"
    assert first.body["properties"]["budget"] >= 50_000


def test_a_seed_gives_the_same_stream() -> None:
    first = [(e.label, e.path, e.body) for e in stream(fixed_scenario(7), 500)]
    again = [(e.label, e.path, e.body) for e in stream(fixed_scenario(7), 500)]
    other = [(e.label, e.path, e.body) for e in stream(fixed_scenario(8), 500)]
    assert first == again
    assert first != other


def test_the_mix_is_realistic() -> None:
    events = stream(fixed_scenario(3, run_id="mixrun"), 4000)
    labels = Counter(e.label.split(":")[0] for e in events)

    assert set(labels) == set(EVENT_WEIGHTS)  # every kind of event shows up
    assert 0.25 <= labels["reply"] / len(events) <= 0.40
    signal_counts = [count for label, count in labels.items() if label != "reply"]
    assert labels["form_submitted"] == max(signal_counts)  # new leads are the commonest signal

    forms = [e.body["properties"] for e in events if e.label == "form_submitted"]
    big = [p for p in forms if p["budget"] >= 50_000]
    assert 0.02 <= len(big) / len(forms) <= 0.09
    assert {p["currency"] for p in big} == {"GBP", "EUR", "USD"}
    assert all(p["budget"] < 50_000 for p in forms if p not in big)

    for event in events:
        properties = event.body.get("properties", {})
        if event.label == "renewal_due":
            assert 30 <= properties["days_to_renewal"] <= 90
        if event.label == "usage_spike":
            assert 0 < properties["seats_used"] <= properties["seats"]
        if event.label == "application_submitted":
            assert event.body["contact"]["phone"]  # the screen runs over SMS
        contact = event.body["contact"]
        assert contact["external_id"].startswith("sim-mixrun-c")
        assert contact["name"].count(" ") == 1
        assert re.fullmatch(r"\+4477009\d{5}", contact.get("phone", "+447700900000"))

    signal_keys = [e.body["idempotency_key"] for e in events if e.path == SIGNALS_PATH]
    reply_ids = [e.body["external_id"] for e in events if e.path == INBOUND_PATH]
    assert len(set(signal_keys)) == len(signal_keys)
    assert len(set(reply_ids)) == len(reply_ids)
    assert all("mixrun" in key for key in signal_keys + reply_ids)

    bodies = {e.body["body"] for e in events if e.path == INBOUND_PATH}
    assert "STOP" in bodies
    assert "What are your opening hours?" in bodies
    assert "This is the third time I'm asking. Nobody has called me back." in bodies
    assert {"yes", "no visa", "3 years", "a month"} <= bodies


def test_replies_and_follow_ups_only_go_to_contacts_the_server_accepted() -> None:
    scenario = fixed_scenario(11)
    accepted: set[str] = set()
    for index in range(3000):
        event = scenario.next_event()
        if not event.new_contact:
            assert event.contact_id in accepted, event
            assert event.path == INBOUND_PATH or event.label in FOLLOW_UPS | {
                "usage_drop",
                "support_risk",
                "renewal_due",
                "usage_spike",
            }
        if index % 3:  # the server turned away every third event
            scenario.confirm(event)
            accepted.add(event.contact_id)

    nobody = fixed_scenario(11)
    events = stream(nobody, 300, confirm=False)
    assert all(e.new_contact and e.path == SIGNALS_PATH for e in events)


def test_applicants_answer_the_screen_in_order_and_stop_at_no_visa() -> None:
    answers: dict[str, list[str]] = {}
    for event in stream(fixed_scenario(5), 3000):
        if event.label == "reply:answer":
            answers.setdefault(event.contact_id, []).append(event.body["body"])
            assert event.body["channel"] == "sms"
    assert answers
    for replies in answers.values():
        for question, reply in enumerate(replies):
            assert reply in ANSWERS[question]
        if replies[0] in ("no", "no visa"):
            assert len(replies) == 1


# ---- the command -----------------------------------------------------------------------------


def run_simulate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`manage.py simulate` as a person runs it: its own process, exit code and output."""
    return subprocess.run(
        [sys.executable, "manage.py", "simulate", *args],
        cwd=e2e.REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings_test", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unreachable_server_is_one_clear_line_and_exit_1() -> None:
    url = f"http://127.0.0.1:{e2e.free_port()}"
    result = run_simulate("--url", url, "--key", "bk_x_y", "--duration", "1")
    assert result.returncode == 1
    assert f"is the server running at {url}?" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_key_is_a_clear_error() -> None:
    result = run_simulate("--duration", "1", env={"BATON_API_KEY": ""})
    assert result.returncode == 1
    assert "pass --key or set BATON_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def summary_numbers(output: str) -> dict[str, int]:
    accepted = re.search(
        r"accepted\s+(\d+) \((\d+) signals, (\d+) replies\) for (\d+) contacts", output
    )
    errors = re.search(r"errors\s+(\d+)", output)
    sent = re.search(r"sent\s+(\d+) events", output)
    assert accepted and errors and sent, output
    return {
        "sent": int(sent[1]),
        "accepted": int(accepted[1]),
        "signals": int(accepted[2]),
        "replies": int(accepted[3]),
        "contacts": int(accepted[4]),
        "errors": int(errors[1]),
    }


def run_id_of(output: str) -> str:
    match = re.search(r"^Run ([0-9a-f]+)", output, re.M)
    assert match, output
    return match[1]


def add_success_rules(org: Org) -> None:
    """seed_demo's support-risk and renewal rules, beside conftest's high-value one."""
    for name, signal_type, condition in [
        ("Support risk", "support_risk", {"all": []}),
        (
            "Renewal review",
            "renewal_due",
            {"path": "properties.days_to_renewal", "op": "<=", "value": 90},
        ),
    ]:
        HandoffRule.objects.create(
            name=name,
            signal_type=signal_type,
            condition=condition,
            trigger=Trigger.STAGE,
            team=org.teams["success"],
            offer_to_role=Role.LEAD,
            priority=Priority.HIGH,
            reason_template=f"{name}: {{account.name}}",
        )


def assert_database_matches(output: str) -> dict[str, int]:
    numbers = summary_numbers(output)
    prefix = f"sim-{run_id_of(output)}-"
    assert Signal.objects.filter(idempotency_key__startswith=prefix).count() == numbers["signals"]
    inbound = Message.objects.filter(direction=Direction.IN, external_id__startswith=prefix)
    assert inbound.count() == numbers["replies"]
    assert Contact.objects.filter(external_id__startswith=prefix).count() == numbers["contacts"]
    return numbers


@pytest.mark.parametrize("batch", [None, 10], ids=["single", "batch"])
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")
def test_simulate_fills_a_live_server(
    org: Org, api_key: str, server: e2e.LiveServer, batch: int | None
) -> None:
    add_success_rules(org)
    out = io.StringIO()
    options: dict[str, Any] = {"url": server.url, "key": api_key, "rate": 20, "duration": 4}
    if batch:
        options["batch"] = batch
    with server.log_on_failure():
        call_command("simulate", seed=HIGH_VALUE_SEED, stdout=out, **options)
    output = out.getvalue()
    print(output)  # shown when the test fails

    numbers = assert_database_matches(output)
    assert numbers["sent"] == 80
    assert numbers["errors"] == 0, output
    assert numbers["accepted"] == 80
    assert numbers["replies"] > 0
    assert re.search(r"latency\s+p50 \d+ ms, p95 \d+ ms", output)
    assert re.search(r"rate\s+[\d.]+ events/s achieved \(20/s offered\)", output)

    raised = Handoff.objects.filter(contact__external_id__startswith=f"sim-{run_id_of(output)}-")
    high_value = raised.filter(trigger=Trigger.HIGH_VALUE, team=org.teams["sales"])
    big_forms = Signal.objects.filter(type="form_submitted", properties__budget__gte=50_000)
    assert high_value.count() == big_forms.count() >= 1
    assert raised.filter(trigger=Trigger.STAGE, team=org.teams["success"]).exists()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")
def test_a_wrong_key_is_a_summary_of_401s(server: e2e.LiveServer) -> None:
    result = run_simulate(
        "--url", server.url, "--rate", "10", "--duration", "1",
        env={"BATON_API_KEY": "bk_wrong_key"},
    )  # fmt: skip
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert re.search(r"401 × 10: \{\"detail\":", result.stdout), result.stdout
    numbers = summary_numbers(result.stdout)
    assert (numbers["sent"], numbers["accepted"], numbers["errors"]) == (10, 0, 10)
    assert "Nothing was accepted (401 × 10)" in result.stderr
    assert not Signal.objects.exists()
