"""The dashboard's numbers against hand-computed fixtures, the incremental refresh (a late reply
rebuilds the old handoff's day; a second run changes nothing; a concurrent run steps aside) and
the maturity rating moving with the data.

The fixture, in March 2025 (a period nobody's "last 30 days" reaches), all times UTC:

Sales (24/7: no business hours), Tuesday 4 March:
  H1 high value, urgent: signal 09:00:00, raised 09:00:30, due 09:15:30, answered 09:05:30,
     resolved 10:00 and handed back to automation                          → met
  H2 complexity, normal: raised 10:00, due 10:15, answered 10:45 (breached) → missed
  H3 high value, urgent: signal 11:00, raised 11:00, due 11:15, answered 11:10 → met
  H4 sentiment, high: raised 12:00, due 12:15, not answered yet            → still running
Success (24/7): H5 stage, normal: raised 09:00, due 10:00, answered 09:20, resolution due 17:00,
     resolved 18:00                                                        → missed
Support (Mon–Fri 09:00–17:00): H6 complexity: raised Fri 7 March 16:50, answered Mon 10 March
     09:20 — 30 business minutes (2 d 16 h 30 min of wall time)            → met (due Mon 09:20)
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.http import QueryDict
from django.utils import timezone

from conftest import Org
from governance.dashboard.histogram import estimate
from governance.dashboard.maturity import ratings
from governance.dashboard.models import (
    Capability,
    DurationDaily,
    HandoffDaily,
    OutcomeDaily,
    RefreshState,
    StageDaily,
    SuppressionDaily,
    TouchDaily,
)
from governance.dashboard.refresh import rollups_refresh
from governance.dashboard.selectors import Figures, dashboard_figures, dashboard_filters
from governance.models import BusinessCalendar, OpeningPeriod, TeamHours
from governance.policies.models import TouchDecision
from handoffs.choices import Channel, Direction, HandoffStatus, Priority, Trigger
from handoffs.models import Conversation, Handoff, Message
from journeys.choices import EnrollmentStatus, LoopStage
from journeys.models import Contact, Enrollment, Signal, Stage, StageVisit

D1 = datetime(2025, 3, 4, tzinfo=UTC)  # a Tuesday
PERIOD = "from=2025-03-01&to=2025-03-14"
MIN = timedelta(minutes=1)


def at(day: datetime, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return day.replace(hour=hh, minute=mm, second=ss)


class Fixture:
    """Builds the module docstring's data; each handoff kept by name."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.n = 0
        self.h: dict[str, Handoff] = {}

    def contact(self) -> Contact:
        self.n += 1
        return Contact.objects.create(external_id=f"fx-{self.n}", name=f"Contact {self.n}")

    def signal(self, contact: Contact, type_: str, when: datetime) -> Signal:
        return Signal.objects.create(
            type=type_, contact=contact, occurred_at=when, body_hash=f"{type_}{self.n}{when}"
        )

    def handoff(
        self,
        name: str,
        team: str,
        trigger: str,
        priority: str,
        created: datetime,
        due: datetime,
        *,
        replied: datetime | None = None,
        resolved: datetime | None = None,
        back: bool | None = None,
        breached: bool = False,
        resolution_due: datetime | None = None,
        signal_at: datetime | None = None,
    ) -> Handoff:
        contact = self.contact()
        signal = self.signal(contact, "form_submitted", signal_at) if signal_at else None
        status = (
            HandoffStatus.RESOLVED
            if resolved
            else HandoffStatus.WAITING_ON_CONTACT
            if replied
            else HandoffStatus.OPEN
        )
        handoff = Handoff.objects.create(
            team=self.org.teams[team],
            contact=contact,
            trigger=trigger,
            reason=name,
            priority=priority,
            status=status,
            signal=signal,
            created_at=created,
            sla_started_at=created,
            first_response_due_at=due,
            first_responded_at=replied,
            resolution_due_at=resolution_due,
            resolved_at=resolved,
            resume_automation=back,
            breached=breached,
            breached_at=due if breached else None,
        )
        if replied:
            self.message(contact, Direction.OUT, replied, handoff=handoff)
        self.h[name] = handoff
        return handoff

    def message(
        self,
        contact: Contact,
        direction: str,
        when: datetime,
        *,
        handoff: Handoff | None = None,
        enrollment: Enrollment | None = None,
    ) -> Message:
        conversation, _ = Conversation.objects.get_or_create(contact=contact)
        message = Message.objects.create(
            conversation=conversation,
            handoff=handoff,
            enrollment=enrollment,
            direction=direction,
            channel=Channel.EMAIL,
            body="hello",
            automated=enrollment is not None and direction == Direction.OUT,
            author=self.org.users["riley"] if handoff and direction == Direction.OUT else None,
        )
        Message.objects.filter(pk=message.pk).update(created_at=when)
        return message


def build(org: Org) -> Fixture:
    fx = Fixture(org)
    fx.handoff(
        "H1", "sales", Trigger.HIGH_VALUE, Priority.URGENT, at(D1, 9, 0, 30), at(D1, 9, 15, 30),
        replied=at(D1, 9, 5, 30), resolved=at(D1, 10), back=True, signal_at=at(D1, 9),
    )  # fmt: skip
    fx.handoff(
        "H2", "sales", Trigger.COMPLEXITY, Priority.NORMAL, at(D1, 10), at(D1, 10, 15),
        replied=at(D1, 10, 45), resolved=at(D1, 11), back=False, breached=True,
    )  # fmt: skip
    fx.handoff(
        "H3", "sales", Trigger.HIGH_VALUE, Priority.URGENT, at(D1, 11), at(D1, 11, 15),
        replied=at(D1, 11, 10), signal_at=at(D1, 11),
    )  # fmt: skip
    fx.handoff("H4", "sales", Trigger.SENTIMENT, Priority.HIGH, at(D1, 12), at(D1, 12, 15))
    fx.handoff(
        "H5", "success", Trigger.STAGE, Priority.NORMAL, at(D1, 9), at(D1, 10),
        replied=at(D1, 9, 20), resolved=at(D1, 18), back=True, resolution_due=at(D1, 17),
    )  # fmt: skip
    # Support keeps office hours: Friday 16:50 → Monday 09:20 is 30 business minutes.
    calendar = BusinessCalendar.objects.create(name="Office", time_zone="UTC")
    for weekday in range(5):
        OpeningPeriod.objects.create(
            calendar=calendar, weekday=weekday, starts=time(9), ends=time(17)
        )
    TeamHours.objects.create(team=org.teams["support"], calendar=calendar)
    fri, mon = D1 + timedelta(days=3), D1 + timedelta(days=6)
    fx.handoff(
        "H6", "support", Trigger.COMPLEXITY, Priority.NORMAL, at(fri, 16, 50), at(mon, 9, 20),
        replied=at(mon, 9, 20), resolved=at(mon, 10), back=False,
    )  # fmt: skip

    # Journeys: acquire → onboard.
    journey = org.journey
    acquire = journey.stages.get()
    onboard = Stage.objects.create(
        journey=journey, name="Kick-off", loop_stage=LoopStage.ONBOARD, order=1
    )
    people = [fx.contact() for _ in range(3)]
    e1, e2, e3 = (
        Enrollment.objects.create(
            contact=c, journey=journey, stage=acquire, stage_entered_at=at(D1, 9), status=status
        )
        for c, status in zip(
            people,
            [EnrollmentStatus.COMPLETED, EnrollmentStatus.DROPPED, EnrollmentStatus.ACTIVE],
            strict=True,
        )
    )
    D2 = D1 + timedelta(days=1)
    for enrollment, stage, entered, left, outcome in [
        (e1, acquire, at(D1, 9), at(D1, 11), "advanced"),  # 2 h
        (e1, onboard, at(D1, 11), at(D2, 11), "completed"),  # 24 h
        (e2, acquire, at(D1, 10), at(D1, 16), "dropped"),  # 6 h
        (e3, acquire, at(D1, 12), None, ""),  # still there
    ]:
        StageVisit.objects.create(
            enrollment=enrollment,
            journey=journey,
            stage=stage,
            entered_at=entered,
            left_at=left,
            outcome=outcome,
        )
    # Touches: two automated (acquire, onboard), a reply in onboard; the human replies above.
    fx.message(people[0], Direction.OUT, at(D1, 9, 30), enrollment=e1)
    fx.message(people[0], Direction.OUT, at(D1, 12), enrollment=e1)
    fx.message(people[0], Direction.IN, at(D1, 12, 30))

    # Governance: two deferred by a cap, one suppressed in quiet hours, one held by tone.
    for action, kind, rule_id, name in [
        ("deferred", "cap", 1, "Email cap"),
        ("deferred", "cap", 1, "Email cap"),
        ("suppressed", "quiet_hours", 2, "Night"),
        ("held", "tone", 3, "Promises"),
    ]:
        TouchDecision.objects.create(
            contact=people[0],
            enrollment=e1,
            team=org.teams["marketing"],
            channel=Channel.EMAIL,
            action=action,
            rule_kind=kind,
            rule_id=rule_id,
            rule_name=name,
            reason="test",
            created_at=at(D1, 13),
        )
    # Outcomes: 4 leads (two raised H1 and H3), 1 meeting; 1 won, 3 lost; 2 renewals due, 1 done.
    someone = people[1]
    for type_, count in [
        ("form_submitted", 2),
        ("meeting_booked", 1),
        ("deal_won", 1),
        ("deal_lost", 3),
        ("renewal_due", 2),
        ("renewed", 1),
    ]:
        for _ in range(count):
            fx.n += 1
            fx.signal(someone, type_, at(D1, 14))
    return fx


def figures_for(org: Org, user: str = "lee", query: str = PERIOD) -> Figures:
    filters, error = dashboard_filters(user=org.users[user], query=QueryDict(query))
    assert error is None
    return dashboard_figures(filters=filters)


@pytest.fixture
def fx(org: Org) -> Fixture:
    fixture = build(org)
    rollups_refresh()
    return fixture


# ---- the numbers --------------------------------------------------------------------------


@pytest.mark.django_db
def test_handoff_volume_sla_adherence_and_shares_match_the_hand_count(org: Org, fx: Fixture):
    f = figures_for(org)
    h = f.handoffs
    assert (h.raised, h.responded, h.sla_met, h.sla_missed, h.breached) == (6, 5, 3, 2, 1)
    assert (h.resolved, h.handed_back) == (4, 2)  # H1, H2, H5, H6; H1 and H5 back
    assert h.adherence == pytest.approx(3 / 5)  # H1, H3, H6 met; H2 (late), H5 (resolved late)
    by_trigger = {b.key: b.totals.raised for b in f.by_trigger}
    assert by_trigger == {"high_value": 2, "sentiment": 1, "complexity": 2, "stage": 1}
    assert {b.key: b.totals.raised for b in f.by_team} == {"sales": 4, "success": 1, "support": 1}
    assert {b.key: b.totals.raised for b in f.by_priority} == {"urgent": 2, "high": 1, "normal": 3}

    sales = figures_for(org, query=f"{PERIOD}&team=sales").handoffs
    assert (sales.raised, sales.sla_met, sales.sla_missed) == (4, 2, 1)


@pytest.mark.django_db
def test_first_response_is_business_time_and_speed_to_lead_wall_time(org: Org, fx: Fixture):
    f = figures_for(org)
    first = f.durations["first_response"]
    # 5, 45, 10 (sales), 20 (success), 30 business minutes (support): sorted 5 10 20 30 45
    assert first.n == 5
    assert first.median == estimate(20 * 60)  # rank ceil(0.5·5) = 3
    assert first.p90 == estimate(45 * 60)  # rank ceil(0.9·5) = 5
    support = figures_for(org, query=f"{PERIOD}&team=support").durations["first_response"]
    assert support.median == estimate(30 * 60)  # not the 2 d 16 h 30 min on the wall clock
    speed = f.durations["speed_to_lead"]
    # H1: signal 09:00:00 → reply 09:05:30 (330 s); H3: 11:00 → 11:10 (600 s)
    assert (speed.n, speed.median, speed.p90) == (2, estimate(330), estimate(600))


@pytest.mark.django_db
def test_time_in_stage_drop_off_and_the_automation_mix_per_loop_stage(org: Org, fx: Fixture):
    f = figures_for(org)
    stages = {s.loop_stage: s for s in f.stages}
    acquire, onboard = stages[LoopStage.ACQUIRE], stages[LoopStage.ONBOARD]
    assert (acquire.entered, acquire.dropped) == (3, 1)
    assert acquire.drop_off == pytest.approx(1 / 3)
    assert (acquire.median, acquire.p90) == (estimate(2 * 3600), estimate(6 * 3600))
    assert (onboard.entered, onboard.dropped, onboard.median) == (1, 0, estimate(24 * 3600))
    assert (acquire.automated, onboard.automated, onboard.inbound) == (1, 1, 1)
    assert f.mix_total.human == 5  # one reply to each answered handoff
    assert f.mix_total.automated_share == pytest.approx(2 / 7)
    assert f.stage_total.drop_off == pytest.approx(1 / 4)


@pytest.mark.django_db
def test_suppressed_touches_by_rule_and_outcome_rates(org: Org, fx: Fixture):
    f = figures_for(org)
    rules = {r.name: r.actions for r in f.rules}
    assert rules == {
        "Email cap": {"deferred": 2},
        "Night": {"suppressed": 1},
        "Promises": {"held": 1},
    }
    assert (f.stopped, f.held) == (3, 1)
    assert f.stop_rate == pytest.approx(3 / 5)  # 3 stopped of 3 + 2 automated touches
    rates = {k: (r.numerator, r.denominator) for k, r in f.outcomes.items()}
    assert rates == {"meeting_rate": (1, 4), "win_rate": (1, 4), "renewal_rate": (1, 2)}


@pytest.mark.django_db
def test_the_journey_filter_narrows_stages_and_touches_but_not_handoffs(org: Org, fx: Fixture):
    from journeys.models import Journey

    other = Journey.objects.create(name="Other", slug="other")
    f = figures_for(org, query=f"{PERIOD}&journey={other.pk}")
    assert f.stage_total.entered == 0 and f.mix_total.automated == 0
    assert f.handoffs.raised == 6
    assert figures_for(org, query=f"{PERIOD}&journey={org.journey.pk}").stage_total.entered == 4


@pytest.mark.django_db
def test_the_trend_has_every_day_of_the_period(org: Org, fx: Fixture):
    f = figures_for(org)
    assert len(f.trend) == 14
    tuesday = next(p for p in f.trend if p.start == D1.date())
    assert (tuesday.handoffs.raised, tuesday.handoffs.breached) == (5, 1)
    assert (tuesday.automated, tuesday.human) == (2, 4)
    assert tuesday.first_response.median == estimate(10 * 60)  # 5 10 20 45 → rank 2


# ---- the refresh --------------------------------------------------------------------------


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for model in (
        HandoffDaily,
        DurationDaily,
        StageDaily,
        TouchDaily,
        SuppressionDaily,
        OutcomeDaily,
    ):
        fields = [f.attname for f in model._meta.concrete_fields if f.name != "id"]
        tables[model.__name__] = sorted(model.objects.values_list(*fields), key=repr)
    return tables


@pytest.mark.django_db
def test_a_late_first_reply_lands_in_the_old_handoffs_day(org: Org, fx: Fixture):
    before = HandoffDaily.objects.get(day=D1.date(), team=org.teams["sales"], trigger="sentiment")
    assert (before.responded, before.sla_missed) == (0, 0)
    # Today, someone finally answers H4 (raised on 4 March 2025): the service stamps "now".
    Handoff.objects.filter(pk=fx.h["H4"].pk).update(
        first_responded_at=timezone.now(), status=HandoffStatus.WAITING_ON_CONTACT
    )
    result = rollups_refresh()
    assert not result.skipped and result.buckets >= 1
    after = HandoffDaily.objects.get(day=D1.date(), team=org.teams["sales"], trigger="sentiment")
    assert (after.responded, after.sla_missed) == (1, 1)
    assert not HandoffDaily.objects.filter(day=timezone.localdate()).exists()
    f = figures_for(org)
    assert f.durations["first_response"].n == 6
    assert f.handoffs.adherence == pytest.approx(3 / 6)


@pytest.mark.django_db
def test_running_the_refresh_again_changes_nothing(org: Org, fx: Fixture):
    first = snapshot()
    assert first["HandoffDaily"] and first["DurationDaily"] and first["TouchDaily"]
    rollups_refresh()
    assert snapshot() == first
    rollups_refresh(full=True)
    assert snapshot() == first


@pytest.mark.django_db
def test_an_untouched_day_is_not_rebuilt(org: Org, fx: Fixture):
    RefreshState.objects.filter(pk=1).update(watermark=timezone.now() + timedelta(minutes=5))
    assert rollups_refresh().buckets == 0


@pytest.mark.django_db(transaction=True)
def test_a_second_refresh_steps_aside_while_one_runs(org: Org):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite (the embedded demo) serialises writers instead")
    build(org)
    # The migration makes the row; a flush by an earlier test may have removed it. Made and
    # committed here, so the second run meets the lock, not an uncommitted insert.
    RefreshState.objects.get_or_create(pk=1)
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                RefreshState.objects.select_for_update().get(pk=1)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=hold_the_lock)
    other.start()
    try:
        assert holding.wait(10)
        assert rollups_refresh().skipped
        assert not HandoffDaily.objects.exists()
    finally:
        release.set()
        other.join(10)
    assert not rollups_refresh().skipped
    assert HandoffDaily.objects.exists()


# ---- maturity -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_capability_rating_moves_when_the_data_does(org: Org, fx: Fixture):
    governance = Capability.objects.get(key="governance")  # SLA adherence: 60 / 75 / 85 / 95
    rated = {r.capability.key: r for r in ratings(list(Capability.objects.all()), figures_for(org))}
    assert rated["governance"].value == pytest.approx(60.0)  # 3 met of 5
    assert rated["governance"].level_label == "Developing"
    # Four more handoffs answered on time on the same Tuesday: 7 met of 9 = 77.8 %.
    for i in range(4):
        fx.handoff(
            f"ok{i}", "sales", Trigger.MANUAL, Priority.LOW, at(D1, 15), at(D1, 16),
            replied=at(D1, 15, 10),
        )  # fmt: skip
    rollups_refresh()
    after = next(r for r in ratings([governance], figures_for(org)))
    assert after.value == pytest.approx(700 / 9)
    assert after.level_label == "Defined"


@pytest.mark.django_db
def test_ops_thresholds_and_kpi_choice_decide_the_rating(org: Org, fx: Fixture):
    capability = Capability.objects.get(key="journey-mapping")  # drop-off, lower is better
    f = figures_for(org)
    assert next(iter(ratings([capability], f))).value == pytest.approx(25.0)
    assert next(iter(ratings([capability], f))).level_label == "Defined"  # ≤ 40, ≤ 30, > 20
    capability.operationalised_at = 26  # above Managed's 20: the levels would not climb
    with pytest.raises(Exception, match="at most"):
        capability.full_clean()
    capability.kpi = "win_rate"
    capability.developing_at, capability.defined_at = 10, 20
    capability.managed_at, capability.operationalised_at = 30, 40
    capability.full_clean()
    assert next(iter(ratings([capability], f))).level_label == "Defined"  # 25 % ≥ 20


@pytest.mark.django_db
def test_without_data_a_capability_is_not_measured(org: Org):
    rollups_refresh()
    rated = ratings(list(Capability.objects.all()), figures_for(org))
    assert len(rated) == 6
    assert {r.level_label for r in rated} == {"Not measured yet"}


@pytest.mark.django_db
def test_the_daily_rebuild_drops_what_deleted_rows_left_behind(org: Org, fx: Fixture):
    from governance.dashboard.tasks import rollups_rebuild_task

    # Weeks later (the fixture's rows are older than the look-back), the contact is erased.
    RefreshState.objects.filter(pk=1).update(watermark=timezone.now() + timedelta(minutes=5))
    Handoff.objects.filter(pk=fx.h["H2"].pk).delete()
    rollups_refresh()  # nothing carries a timestamp of the deletion
    assert figures_for(org).handoffs.raised == 6
    assert rollups_rebuild_task() > 0
    assert figures_for(org).handoffs.raised == 5
    assert figures_for(org).durations["first_response"].n == 4


@pytest.mark.django_db
def test_a_business_time_is_computed_once_per_reply(org: Org, fx: Fixture):
    from governance.dashboard.models import ResponseTime

    h6 = ResponseTime.objects.get(handoff=fx.h["H6"])
    assert h6.business_seconds == 30 * 60
    ResponseTime.objects.filter(pk=h6.pk).update(business_seconds=31 * 60)
    rollups_refresh(full=True)  # reuses it: the calendar is not walked again
    assert ResponseTime.objects.get(handoff=fx.h["H6"]).business_seconds == 31 * 60
    later = fx.h["H6"].first_responded_at + timedelta(minutes=30)
    Handoff.objects.filter(pk=fx.h["H6"].pk).update(first_responded_at=later)
    rollups_refresh(full=True)  # a different first reply: computed afresh
    assert ResponseTime.objects.get(handoff=fx.h["H6"]).business_seconds == 60 * 60


@pytest.mark.django_db
def test_the_refresh_is_set_based_its_queries_do_not_grow_with_the_rows(org: Org, fx: Fixture):
    from django.test.utils import CaptureQueriesContext

    def add(n: int) -> int:
        for i in range(n):
            fx.handoff(
                f"more{n}-{i}", "sales", Trigger.MANUAL, Priority.LOW, at(D1, 15), at(D1, 16),
                replied=at(D1, 15, 5),
            )  # fmt: skip
        with CaptureQueriesContext(connection) as captured:
            rollups_refresh()
        return len(captured.captured_queries)

    assert add(3) == add(30)
    assert figures_for(org).handoffs.raised == 6 + 33
