"""The journey map's figures (contacts per step now; time-in-stage and drop-off per stage over a
period), the period a page is asked for, and who may open the map."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from journeys.choices import LoopStage
from journeys.engine import journey_publish
from journeys.journey_map import journey_map, journeys_overview, step_summary
from journeys.models import Contact, Enrollment, Journey, Stage, StageVisit, Step
from portal.periods import period_parse

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def journey(org: Any) -> Journey:
    journey = Journey.objects.create(name="Trial", slug="trial", enroll_on_signal_type="trial")
    kickoff = Stage.objects.create(journey=journey, name="Kick-off", loop_stage=LoopStage.ONBOARD)
    adopt = Stage.objects.create(
        journey=journey, name="Adoption", loop_stage=LoopStage.ADOPT, order=1
    )
    steps = [
        (kickoff, "welcome", "send_message", {"channel": "email", "template": "Welcome!"}, None),
        (kickoff, "wait", "wait", {"until": "activated", "minutes": 4320}, None),
        (
            kickoff,
            "call",
            "handoff",
            {"priority": "high", "trigger": "stage", "reason": "Stalled", "sla_minutes": 90},
            org.teams["success"],
        ),
        (adopt, "tips", "send_message", {"channel": "auto", "template": "Tips"}, None),
        (adopt, "done", "end", {"outcome": "completed"}, None),
    ]
    for order, (stage, key, kind, config, team) in enumerate(steps):
        Step.objects.create(
            journey=journey,
            stage=stage,
            key=key,
            order=order,
            kind=kind,
            config=config,
            team=team,
            mode="human" if kind == "handoff" else "automation",
        )
    journey_publish(journey=journey)
    return journey


def enroll(journey: Journey, n: int, *, step: str, status: str = "active", stage: str = "") -> None:
    version = journey.versions.order_by("-number").first()
    stage_row = journey.stages.get(name=stage) if stage else journey.stages.first()
    for i in range(n):
        contact = Contact.objects.create(external_id=f"{step}-{status}-{i}")
        Enrollment.objects.create(
            contact=contact,
            journey=journey,
            version=version,
            stage=stage_row,
            stage_entered_at=NOW,
            status=status,
            step=step,
        )


def stay(journey: Journey, stage: str, entered: datetime, hours: float | None, outcome: str = ""):
    contact = Contact.objects.create(external_id=f"v-{Contact.objects.count()}")
    enrollment = Enrollment.objects.create(
        contact=contact, journey=journey, stage_entered_at=entered, status="completed"
    )
    StageVisit.objects.create(
        enrollment=enrollment,
        journey=journey,
        stage=journey.stages.get(name=stage),
        entered_at=entered,
        left_at=entered + timedelta(hours=hours) if hours is not None else None,
        outcome=outcome,
    )


def period(query: str = "period=30d"):
    found, error = period_parse(QueryDict(query), now=NOW)
    assert error is None
    return found


@pytest.mark.django_db
def test_contacts_are_counted_at_the_step_they_sit_at_now(journey):
    enroll(journey, 3, step="wait")
    enroll(journey, 2, step="call", status="paused_for_human")
    enroll(journey, 1, step="tips", stage="Adoption")
    enroll(journey, 4, step="done", status="completed")  # gone: not counted

    found = journey_map(journey=journey, period=period())

    cards = {c.key: c for column in found.columns for c in column.steps}
    assert {k: (c.active, c.paused) for k, c in cards.items()} == {
        "welcome": (0, 0),
        "wait": (3, 0),
        "call": (0, 2),
        "tips": (1, 0),
        "done": (0, 0),
    }
    assert [(c.name, c.now) for c in found.columns] == [("Kick-off", 5), ("Adoption", 1)]
    assert (found.live, found.paused) == (6, 2)
    assert cards["call"].mode == "human" and cards["call"].team == "Success"
    assert (
        cards["call"].summary == "Hands off: stage, high priority, first response within 1 h 30 min"
    )


@pytest.mark.django_db
def test_time_in_stage_takes_median_and_p90_of_stays_that_ended_in_the_period(journey):
    start = NOW - timedelta(days=10)
    for hours in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]:
        stay(journey, "Kick-off", start, hours, "advanced")
    stay(journey, "Kick-off", NOW - timedelta(days=90), 2, "advanced")  # ended long ago
    stay(journey, "Kick-off", start, None)  # still there: no length yet

    figures = journey_map(journey=journey, period=period()).columns[0].figures

    assert figures.measured == 10
    assert figures.median == timedelta(hours=5, minutes=30)
    assert figures.p90 == timedelta(hours=9, minutes=6)
    assert (figures.median_label, figures.p90_label) == ("5 h 30 min", "9 h 6 min")


@pytest.mark.django_db
def test_drop_off_is_stays_that_left_the_journey_over_stays_that_began(journey):
    start = NOW - timedelta(days=3)
    for outcome in ["advanced", "advanced", "dropped", "unenrolled", "completed", ""]:
        stay(journey, "Kick-off", start, None if outcome == "" else 1, outcome)
    stay(journey, "Kick-off", NOW - timedelta(days=40), 1, "dropped")  # began before the period

    figures = journey_map(journey=journey, period=period()).columns[0].figures

    assert (figures.entered, figures.moved_on, figures.completed, figures.dropped) == (6, 2, 1, 2)
    assert figures.drop_off_label == "33%"
    empty = journey_map(journey=journey, period=period()).columns[1].figures
    assert (empty.entered, empty.drop_off_label, empty.median_label) == (0, "—", "—")


@pytest.mark.django_db
def test_the_period_bounds_the_figures(journey):
    stay(journey, "Kick-off", NOW - timedelta(days=20), 1, "dropped")

    assert journey_map(journey=journey, period=period("period=7d")).columns[0].figures.entered == 0
    assert journey_map(journey=journey, period=period()).columns[0].figures.entered == 1
    custom = period("from=2026-10-31&to=2026-11-01")
    assert journey_map(journey=journey, period=custom).columns[0].figures.entered == 1


@pytest.mark.django_db
def test_contacts_on_an_older_version_are_reported(journey):
    enroll(journey, 2, step="wait")  # on v1
    Step.objects.filter(journey=journey, key="welcome").update(
        config={"channel": "email", "template": "Hi!"}
    )
    journey_publish(journey=journey)  # v2, without any change to where they are
    Step.objects.filter(journey=journey, key="tips").update(key="tricks")
    journey_publish(journey=journey)  # v3
    enroll(journey, 1, step="tricks", stage="Adoption")

    found = journey_map(journey=journey, period=period())

    assert found.version.number == 3
    assert found.older_versions == {1: 2}
    assert found.elsewhere == 0


@pytest.mark.django_db
def test_the_map_costs_a_fixed_number_of_queries(journey):
    enroll(journey, 5, step="wait")
    stay(journey, "Kick-off", NOW - timedelta(days=1), 1, "advanced")
    with CaptureQueriesContext(connection) as small:
        journey_map(journey=journey, period=period())
    enroll(journey, 20, step="tips", stage="Adoption")
    for _ in range(20):
        stay(journey, "Adoption", NOW - timedelta(days=1), 2, "completed")
    with CaptureQueriesContext(connection) as large:
        journey_map(journey=journey, period=period())
    assert len(small) == len(large) == 7


@pytest.mark.django_db
def test_the_overview_counts_live_contacts_and_endings(journey):
    enroll(journey, 2, step="wait")
    enroll(journey, 1, step="call", status="paused_for_human")
    stay(journey, "Adoption", NOW - timedelta(days=2), 1, "completed")
    stay(journey, "Kick-off", NOW - timedelta(days=2), 1, "unenrolled")

    summary = next(s for s in journeys_overview(period=period()) if s.journey == journey)

    assert (summary.live, summary.paused, summary.completed, summary.dropped) == (3, 1, 1, 1)
    assert [s.name for s in summary.stages] == ["Kick-off", "Adoption"]


@pytest.mark.parametrize(
    ("kind", "config", "expected"),
    [
        ("wait", {"until": "reply", "minutes": 4320}, "Waits for a reply, at most 3 d"),
        ("wait", {"minutes": 90}, "Waits 1 h 30 min"),
        ("wait", {"until": "activated"}, "Waits for signal activated"),
        ("ask", {"channel": "sms", "question": "Visa?"}, "Asks by sms: “Visa?”"),
        ("send_message", {"channel": "auto", "template": "Hi"}, "By the contact's channel: “Hi”"),
        ("branch", {"then": "a", "else": "b"}, "If the condition holds → a, else → b"),
        ("update_fields", {"set": {"contact.name": "x"}}, "Sets contact.name"),
        ("advance_stage", {"stage": "renew"}, "Moves to stage renew"),
        ("end", {"outcome": "dropped"}, "Ends: dropped"),
    ],
)
def test_each_step_kind_says_what_it_does(kind, config, expected):
    assert step_summary(kind, config) == expected


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("period=9d", "Unknown period '9d': showing the last 30 days."),
        ("from=2026-13-01&to=2026-12-01", "Dates must be given as YYYY-MM-DD, both from and to."),
        ("from=2026-11-01", "Dates must be given as YYYY-MM-DD, both from and to."),
        ("from=2026-11-02&to=2026-11-01", "The period must end on or after the day it starts."),
        ("from=2020-01-01&to=2026-11-01", "A period can be at most 1098 days long."),
    ],
)
def test_a_period_that_makes_no_sense_says_why_and_falls_back_to_30_days(query, error):
    found, problem = period_parse(QueryDict(query), now=NOW)

    assert problem == error
    assert (found.key, found.until - found.since) == ("30d", timedelta(days=30))


def test_a_custom_period_covers_whole_days_both_included():
    found, _ = period_parse(QueryDict("from=2026-11-01&to=2026-11-07"), now=NOW)

    assert (found.since, found.until) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 8, tzinfo=UTC),
    )
    assert (found.start_date.isoformat(), found.end_date.isoformat()) == (
        "2026-11-01",
        "2026-11-07",
    )
    assert found.label == "1 Nov 2026 – 7 Nov 2026"


@pytest.mark.django_db
def test_members_see_the_maps_and_others_do_not(client, org, journey, django_user_model):
    assert client.get("/journeys/").status_code == 302  # to the login page
    outsider = django_user_model.objects.create_user("outsider", password="x")
    client.force_login(outsider)
    assert client.get(f"/journeys/{journey.pk}/").status_code == 403

    client.force_login(org.users["riley"])
    listing = client.get("/journeys/").content.decode()
    page = client.get(f"/journeys/{journey.pk}/").content.decode()

    assert f'href="/journeys/{journey.pk}/?period=30d"' in listing
    assert "Kick-off" in page and "Adoption" in page and "Hands off" in page
    assert client.get("/journeys/999999/").status_code == 404


@pytest.mark.django_db
def test_a_bad_period_is_a_400_with_the_reason_on_the_page(client, org, journey):
    client.force_login(org.users["lee"])

    response = client.get(f"/journeys/{journey.pk}/?from=yesterday&to=today")

    assert response.status_code == 400
    assert "Dates must be given as YYYY-MM-DD" in response.content.decode()
    assert "Kick-off" in response.content.decode()
