"""The replay engine on PostgreSQL: history made by the real services, then the live rules and
a draft's replayed side by side. A change to a rule's threshold, a cap, a tone rule, an SLA
policy or a team's calendar moves exactly the counts it should."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.utils import timezone

from conftest import key_client
from governance.changes import ProposedChange
from governance.models import BusinessCalendar, Holiday, OpeningPeriod, SlaPolicy, TeamHours
from governance.policies.models import FrequencyCap, ToneRule
from governance.replay.ruleset import (
    ChangeError,
    condition_text,
    describe,
    ruleset_live,
    ruleset_with,
)
from governance.tests.test_policies_support import arrive, cap, day_zone, nurture, three_days_pass
from governance.tests.test_replay_support import columns, window
from handoffs.models import Handoff
from handoffs.services import handoff_reply
from handoffs.services.breaches import handoffs_sla_sweep
from journeys.models import HandoffRule

pytestmark = pytest.mark.django_db(transaction=True)


def threshold(rule: HandoffRule, value: int) -> ProposedChange:
    condition = {"path": "properties.budget", "op": ">=", "value": value}
    return ProposedChange(model=HandoffRule, pk=rule.pk, values={"condition": condition})


def test_a_lower_threshold_raises_more_high_value_handoffs_and_a_higher_one_fewer(org, send_signal):
    start = timezone.now()
    for external_id, budget in [("c-1", 60000), ("c-2", 45000), ("c-3", 30000)]:
        assert send_signal(external_id=external_id, budget=budget).status_code == 202
    assert Handoff.objects.count() == 1

    live, lower = columns([threshold(org.rule, 40000)], window(start=start))
    _, higher = columns([threshold(org.rule, 100000)], window(start=start))

    assert live["handoffs"]["by_trigger_team"] == {"high_value|sales": 1}
    assert lower["handoffs"]["by_trigger_team"] == {"high_value|sales": 2}
    assert lower["handoffs"]["by_priority"] == {"urgent": 2}
    assert higher["handoffs"]["total"] == 0


def test_a_second_match_for_a_contact_with_an_active_handoff_joins_it(org, send_signal):
    start = timezone.now()
    send_signal(external_id="c-1", budget=60000)
    send_signal(external_id="c-1", budget=45000)  # below the live threshold

    live, lower = columns([threshold(org.rule, 40000)], window(start=start))

    assert live["handoffs"]["total"] == 1
    assert lower["handoffs"]["total"] == 1  # the second match attaches as evidence


def test_a_rule_moved_to_another_team_moves_its_handoffs(org, send_signal):
    start = timezone.now()
    send_signal(external_id="c-1", budget=60000)
    change = ProposedChange(
        model=HandoffRule, pk=org.rule.pk, values={"team_id": org.teams["success"].pk}
    )

    live, draft = columns([change], window(start=start))

    assert live["handoffs"]["by_team"] == {"sales": 1}
    assert draft["handoffs"]["by_team"] == {"success": 1}


def test_a_disabled_rule_raises_nothing_and_a_new_rule_raises_its_own(org, send_signal):
    start = timezone.now()
    send_signal(external_id="c-1", budget=60000)
    off = ProposedChange(model=HandoffRule, pk=org.rule.pk, values={"enabled": False})
    new = ProposedChange(
        model=HandoffRule,
        pk=None,
        values={
            "name": "Any form",
            "signal_type": "form_submitted",
            "condition": {"path": "properties.currency", "op": "==", "value": "GBP"},
            "trigger": "qualification",
            "team_id": org.teams["marketing"].pk,
            "priority": "low",
            "reason_template": "A form",
            "enabled": True,
        },
    )

    _, draft = columns([off, new], window(start=start))

    assert draft["handoffs"]["by_trigger_team"] == {"qualification|marketing": 1}


def test_a_tightened_cap_turns_sends_into_deferrals_or_suppressions(org, api_key):
    start = timezone.now()
    nurture()
    arrive(api_key, external_id="t-1", zone=day_zone())
    arrive(api_key, external_id="t-2", zone=day_zone())
    three_days_pass()  # each got the welcome and the nudge
    tight = {
        "name": "One email a week",
        "limit": 1,
        "window_amount": 7,
        "window_unit": "days",
        "channels": ["email"],
        "active": True,
    }
    defer = ProposedChange(model=FrequencyCap, pk=None, values={**tight, "action": "defer"})
    suppress = ProposedChange(model=FrequencyCap, pk=None, values={**tight, "action": "suppress"})

    live, deferring = columns([defer], window(start=start))
    _, suppressing = columns([suppress], window(start=start))

    assert (live["touches"]["attempts"], live["touches"]["sent"]) == (4, 4)
    assert live["touches"]["by_rule"] == {}
    assert (deferring["touches"]["sent"], deferring["touches"]["deferred"]) == (2, 2)
    assert deferring["touches"]["by_rule"] == {"deferred|cap|One email a week": 2}
    assert suppressing["touches"]["by_rule"] == {"suppressed|cap|One email a week": 2}


def test_loosening_a_live_cap_sends_what_it_deferred(org, api_key):
    start = timezone.now()
    nurture()
    rule = cap(limit=1)
    arrive(api_key, external_id="t-1", zone=day_zone())
    three_days_pass()
    loose = ProposedChange(model=FrequencyCap, pk=rule.pk, values={"limit": 5})

    live, draft = columns([loose], window(start=start))

    assert live["touches"]["by_rule"] == {f"deferred|cap|{rule.name}": 1}
    assert draft["touches"]["by_rule"] == {}
    assert draft["touches"]["sent"] == 2


def test_a_new_promise_rule_holds_the_text_that_promises(org, api_key):
    start = timezone.now()
    nurture(nudge="This week only: 20% off your first year.")
    arrive(api_key, external_id="t-1", zone=day_zone())
    three_days_pass()
    promise = ProposedChange(
        model=ToneRule,
        pk=None,
        values={"name": "No promises", "kind": "promise", "active": True},
    )
    banned = ProposedChange(
        model=ToneRule,
        pk=None,
        values={"name": "No hype", "kind": "banned", "phrases": "only", "active": True},
    )

    live, held = columns([promise], window(start=start))
    _, blocked = columns([promise, banned], window(start=start))

    assert live["touches"]["held"] == 0
    assert held["touches"]["by_rule"] == {"held|tone|No promises": 1}
    assert blocked["touches"]["by_rule"] == {"blocked|tone|No hype": 1}  # banned wins


def raise_and_sweep(send_signal, *, after: timedelta) -> tuple[object, object]:
    """An urgent Sales handoff left unanswered, then the sweep `after` later."""
    send_signal(external_id="c-1", budget=60000)
    later = timezone.now() + after
    handoffs_sla_sweep(now=later)
    return Handoff.objects.get(), later


def test_a_longer_first_reply_target_removes_the_breach(org, send_signal):
    start = timezone.now()
    handoff, later = raise_and_sweep(send_signal, after=timedelta(hours=1))
    assert handoff.breached and handoff.breached_target == "first_response"
    policy = ProposedChange(
        model=SlaPolicy,
        pk=None,
        values={
            "team_id": org.teams["sales"].pk,
            "priority": "urgent",
            "first_response_minutes": 120,
        },
    )

    live, draft = columns([policy], window(start=start, end=later))

    assert live["breaches"]["by_team_target"] == {"sales|first_response": 1}
    assert draft["breaches"]["total"] == 0


def test_a_reply_in_time_is_no_breach_but_a_tighter_target_makes_it_one(org, send_signal):
    start = timezone.now()
    send_signal(external_id="c-1", budget=60000)
    handoff = Handoff.objects.get()
    handoff_reply(handoff_id=handoff.pk, user=org.users["sam"], body="Hello, Sam here.")
    Handoff.objects.filter(pk=handoff.pk).update(
        created_at=handoff.created_at - timedelta(minutes=10),
        sla_started_at=handoff.created_at - timedelta(minutes=10),
    )
    end = timezone.now() + timedelta(hours=1)
    policy = ProposedChange(
        model=SlaPolicy,
        pk=None,
        values={
            "team_id": org.teams["sales"].pk,
            "priority": "urgent",
            "first_response_minutes": 5,
        },
    )

    live, draft = columns([policy], window(start=start - timedelta(minutes=15), end=end))

    assert live["breaches"]["total"] == 0  # replied 10 minutes in, within 15
    assert draft["breaches"]["by_target"] == {"first_response": 1}


def test_a_calendar_shut_today_and_tomorrow_moves_the_due_time_past_the_window(org, send_signal):
    start = timezone.now()
    _, later = raise_and_sweep(send_signal, after=timedelta(hours=1))
    calendar = BusinessCalendar.objects.create(name="Shut", time_zone="UTC")
    for weekday in range(7):
        OpeningPeriod.objects.create(
            calendar=calendar, weekday=weekday, starts=time(9), ends=time(17)
        )
    today = timezone.now().date()
    for offset in range(3):
        Holiday.objects.create(calendar=calendar, date=today + timedelta(days=offset))
    hours = ProposedChange(
        model=TeamHours,
        pk=None,
        values={"team_id": org.teams["sales"].pk, "calendar_id": calendar.pk},
    )

    live, draft = columns([hours], window(start=start, end=later))

    assert live["breaches"]["total"] == 1
    assert draft["breaches"]["total"] == 0


def test_replacing_a_calendars_periods_in_a_draft_changes_its_clock(org, send_signal):
    start = timezone.now()
    calendar = BusinessCalendar.objects.create(name="Always", time_zone="UTC", always_open=True)
    TeamHours.objects.create(team=org.teams["sales"], calendar=calendar)
    _, later = raise_and_sweep(send_signal, after=timedelta(hours=1))
    tomorrow = (timezone.now() + timedelta(days=2)).date()
    shut = ProposedChange(
        model=BusinessCalendar,
        pk=calendar.pk,
        values={"always_open": False},
        related={
            "periods": [{"weekday": tomorrow.weekday(), "starts": "09:00", "ends": "17:00"}],
            "holidays": [{"date": date(2030, 1, 1).isoformat(), "name": "New year"}],
        },
    )

    live, draft = columns([shut], window(start=start, end=later))

    assert live["breaches"]["total"] == 1
    assert draft["breaches"]["total"] == 0
    rules = ruleset_with([shut])
    assert rules.team_calendar(org.teams["sales"].pk).periods[0].starts == time(9)
    assert ruleset_live().team_calendar(org.teams["sales"].pk).always_open


def test_a_team_scope_counts_only_that_teams_handoffs(org, send_signal):
    start = timezone.now()
    send_signal(external_id="c-1", budget=60000)

    sales, _ = columns([], window(start=start, team=org.teams["sales"]))
    success, _ = columns([], window(start=start, team=org.teams["success"]))

    assert sales["handoffs"]["total"] == 1
    assert success["handoffs"]["total"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (ProposedChange(model=Handoff, pk=None, values={}), "not a rule or policy"),
        (ProposedChange(model=HandoffRule, pk=999999, values={}), "#999999 no longer exists"),
        (
            ProposedChange(model=FrequencyCap, pk=None, values={"no_such_field": 1}),
            "has no field 'no_such_field'",
        ),
        (
            ProposedChange(model=OpeningPeriod, pk=None, values={"starts": "25:99"}),
            "starts:",
        ),
        (
            ProposedChange(model=SlaPolicy, pk=None, values={}, related={"periods": []}),
            "no inline 'periods'",
        ),
    ],
)
def test_a_change_the_replay_cannot_apply_says_which_and_why(org, change, message):
    with pytest.raises(ChangeError, match=message):
        ruleset_with([change])


def test_changes_read_as_one_line_each_naming_only_what_differs(org):
    live = ruleset_live()
    rule = org.rule
    every_field = {
        "name": rule.name,
        "signal_type": rule.signal_type,
        "condition": {"path": "properties.budget", "op": ">=", "value": 40000},
        "priority": "urgent",
        "enabled": True,
    }
    changed = ProposedChange(model=HandoffRule, pk=rule.pk, values=every_field)
    assert describe(changed, live) == (
        f"Handoff rule “High value v1” (#{rule.pk}): "
        "condition properties.budget ≥ 50000 → properties.budget ≥ 40000"
    )
    removed = ProposedChange(model=HandoffRule, pk=rule.pk, values={}, delete=True)
    assert describe(removed, live) == f"Handoff rule “High value v1” (#{rule.pk}) removed"
    new = ProposedChange(model=ToneRule, pk=None, values={"name": "No promises", "kind": "promise"})
    assert describe(new, live) == "New tone rule “No promises”: kind promise"
    assert describe(removed) == f"Handoff rule #{rule.pk} removed"  # without the live rules
    nested = {"any": [{"not": {"path": "type", "op": "==", "value": "x"}}, {"all": []}]}
    assert condition_text(nested) == 'not (type = "x") or always'


def test_history_is_read_page_by_page_with_progress_to_the_end(org, api_key, monkeypatch):
    from governance.replay import engine

    start = timezone.now()
    nurture()
    for n in range(3):
        arrive(api_key, external_id=f"t-{n}", zone=day_zone())
    three_days_pass()
    for external_id, budget in [("c-1", 60000), ("c-2", 45000), ("c-3", 30000), ("c-4", 90000)]:
        body = {
            "type": "form_submitted",
            "contact": {"external_id": external_id},
            "properties": {"budget": budget, "currency": "GBP"},
        }
        assert key_client(api_key).post("/api/v1/signals/", body, format="json").status_code == 202
    win = window(start=start)
    whole = engine.replay(ruleset=ruleset_with([threshold(org.rule, 40000)]), window=win)
    seen: list[tuple[int, int]] = []
    monkeypatch.setattr(engine, "PAGE", 2)

    paged = engine.replay(
        ruleset=ruleset_with([threshold(org.rule, 40000)]),
        window=win,
        progress=lambda done, total: seen.append((done, total)),
    )

    assert paged == whole
    assert paged["handoffs"]["total"] == 3 and paged["touches"]["attempts"] == 6
    total = engine.replay_size(window=win)
    assert len(seen) > 5
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)  # never backwards
    assert seen[-1] == (total, total)
