"""Reading the rules for one touch: which rules govern it (its team's and organisation-wide), the
contact's zone and its fallbacks, how long a held message waits, and how the held text is
marked — as tables."""

from datetime import time
from typing import Any

import pytest

from governance import tone
from governance.policies.rules import approval_terms, contact_zone, ruleset_for, touch_team
from governance.policies.selectors import Segment, highlight
from governance.tests.test_policies_support import cap, quiet, tone_rule
from journeys.models import Contact

pytestmark = pytest.mark.django_db


def test_a_team_gets_its_own_rules_and_the_organisation_wide_ones_only_active(org):
    cap(name="Org")
    cap(name="Sales", team=org.teams["sales"])
    cap(name="Success", team=org.teams["success"])
    cap(name="Off", active=False)
    quiet(name="Org nights")
    tone_rule(name="Sales promises", kind="promise", team=org.teams["sales"])

    sales = ruleset_for(team=org.teams["sales"])
    nobody = ruleset_for(team=None)

    assert [c.name for c in sales.caps] == ["Org", "Sales"]
    assert [c.name for c in nobody.caps] == ["Org"]
    assert [q.name for q in sales.quiet] == ["Org nights"]
    assert [t.name for t in sales.tone] == ["Sales promises"] and not nobody.tone


def test_two_rules_with_one_name_are_told_apart_by_their_id(org):
    first, second = cap(name="Same"), cap(name="Same", limit=9)

    ruleset = ruleset_for(team=None)

    assert [c.name for c in ruleset.caps] == ["Same", f"Same #{second.pk}"]
    assert ruleset.rule_id("cap", "Same") == first.pk
    assert ruleset.rule_id("cap", f"Same #{second.pk}") == second.pk


@pytest.mark.parametrize(
    ("contact_zone_name", "calendar_zone", "expected"),
    [
        ("Asia/Tokyo", "America/New_York", "Asia/Tokyo"),  # the contact's own
        ("", "America/New_York", "America/New_York"),  # the owning team's calendar
        ("Not/AZone", "America/New_York", "America/New_York"),  # a bad name is skipped
        ("", None, "UTC"),  # settings.TIME_ZONE
    ],
)
def test_the_contacts_zone_falls_back_to_the_team_calendar_then_the_setting(
    org: Any, contact_zone_name: str, calendar_zone: str | None, expected: str
) -> None:
    from governance.models import BusinessCalendar, TeamHours

    if calendar_zone:
        calendar = BusinessCalendar.objects.create(name="Sales hours", time_zone=calendar_zone)
        TeamHours.objects.create(team=org.teams["sales"], calendar=calendar)
    contact = Contact.objects.create(external_id="z", timezone=contact_zone_name)

    assert contact_zone(contact, org.teams["sales"]).key == expected


def test_a_touch_belongs_to_its_steps_team_else_the_journeys_first_team(org):
    class Version:
        definition = {
            "steps": [
                {"key": "hello", "team": None},
                {"key": "offer", "team": "success"},
                {"key": "call", "team": "sales"},
            ]
        }

    class Enrollment:
        version = Version()

    assert touch_team(Enrollment(), "call") == org.teams["sales"]
    assert touch_team(Enrollment(), "hello") == org.teams["success"]
    Version.definition = {"steps": [{"key": "hello", "team": None}]}
    assert touch_team(Enrollment(), "hello") is None


def test_a_held_message_waits_as_long_as_its_strictest_promise_rule_says(org, settings):
    settings.BATON_APPROVAL_EXPIRY_MINUTES = 600
    settings.BATON_APPROVAL_EXPIRY_ACTION = "send"
    tone_rule(name="Prices", kind="promise", promise_kinds=["price"], approval_expires_minutes=90)
    tone_rule(name="Dates", kind="promise", promise_kinds=["date"], expiry_action="reject")
    ruleset = ruleset_for(team=None)

    def terms(text: str) -> tuple[int, str]:
        report = tone.tone_check(text=text, channel="email", rules=ruleset.tone)
        return approval_terms(ruleset, report.findings)

    assert terms("Only £10 per month") == (90, "send")
    assert terms("Ready by Friday") == (600, "reject")
    assert terms("£10 a month, ready by Friday") == (90, "reject")


@pytest.mark.parametrize(
    ("text", "findings", "segments"),
    [
        ("no findings", [], [Segment("no findings")]),
        (
            "Get 20% OFF by Friday",
            [
                {"excerpt": "20% off", "kind": "promise", "rule": "P", "detail": "discount"},
                {"excerpt": "by Friday", "kind": "promise", "rule": "P", "detail": "date"},
            ],
            [
                Segment("Get "),
                Segment("20% OFF", "P: discount", "promise"),
                Segment(" "),
                Segment("by Friday", "P: date", "promise"),
            ],
        ),
        (
            "Act now\n\n— Bot",
            [
                {"excerpt": "— Bot", "kind": "disclosure", "rule": "D", "detail": "added"},
                {"excerpt": "act now", "kind": "banned", "rule": "B", "detail": "banned"},
                {"excerpt": "now", "kind": "banned", "rule": "B", "detail": "overlaps"},
            ],
            [Segment("Act now", "B: banned", "banned"), Segment("\n\n— Bot")],
        ),
    ],
)
def test_the_held_text_is_split_so_each_finding_is_marked_once(text, findings, segments):
    assert highlight(text, findings) == segments


def test_a_quiet_rule_keeps_its_weekdays_and_overnight_times(org):
    quiet(name="Weekend nights", starts=time(22), ends=time(9), weekdays=[4, 5])

    (rule,) = ruleset_for(team=None).quiet

    assert (rule.starts, rule.ends, rule.weekdays) == (time(22), time(9), frozenset({4, 5}))
