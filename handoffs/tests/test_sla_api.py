"""The handoff shape H gains the SLA clock's fields, additively (API.md, docs/sla.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from conftest import Org
from governance.models import BusinessCalendar, OpeningPeriod, SlaPolicy, TeamHours
from handoffs.models import Handoff
from handoffs.services import handoff_reply
from handoffs.services.breaches import handoffs_sla_sweep

pytestmark = pytest.mark.django_db

SLA_FIELDS = {
    "sla_started_at",
    "next_response_due_at",
    "resolution_due_at",
    "sla_clock",
    "sla_paused_since",
    "breached_at",
    "breached_target",
}


def instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@pytest.fixture
def handoff(org: Org, send_signal: Any) -> Handoff:
    SlaPolicy.objects.create(team=org.teams["sales"], priority="urgent", resolution_minutes=480)
    assert send_signal(key="form-sla").status_code == 202
    return Handoff.objects.get()


def test_a_handoff_carries_its_clock(handoff: Handoff, as_user: Any):
    item = as_user("riley").get(f"/api/v1/handoffs/{handoff.pk}/").json()
    assert set(item) >= SLA_FIELDS
    assert instant(item["sla_started_at"]) == handoff.created_at
    assert instant(item["resolution_due_at"]) == handoff.created_at + timedelta(minutes=480)
    assert item["sla_clock"] == {
        "target": "first_response",
        "due_at": item["first_response_due_at"],
    }
    assert (item["next_response_due_at"], item["sla_paused_since"]) == (None, None)
    assert (item["breached"], item["breached_at"], item["breached_target"]) == (False, None, None)
    # The list has the same shape.
    [listed] = as_user("riley").get("/api/v1/handoffs/").json()["results"]
    assert {k: listed[k] for k in SLA_FIELDS} == {k: item[k] for k in SLA_FIELDS}


def test_waiting_on_the_contact_shows_the_pause_and_no_running_clock(
    handoff: Handoff, org: Org, as_user: Any
):
    handoff_reply(handoff_id=handoff.pk, user=org.users["riley"], body="Hello Ada")
    item = as_user("riley").get(f"/api/v1/handoffs/{handoff.pk}/").json()
    assert item["status"] == "waiting_on_contact"
    assert item["sla_clock"] is None and item["sla_paused_since"] is not None


def test_a_breach_shows_when_and_which_target(handoff: Handoff, as_user: Any):
    handoffs_sla_sweep(now=timezone.now() + timedelta(hours=1))
    item = as_user("riley").get(f"/api/v1/handoffs/{handoff.pk}/").json()
    assert (item["breached"], item["escalated"], item["breached_target"]) == (
        True,
        True,
        "first_response",
    )
    assert instant(item["breached_at"]) is not None
    breached = as_user("riley").get("/api/v1/handoffs/", {"breached": "true"}).json()
    assert [h["id"] for h in breached["results"]] == [handoff.pk]


def test_after_hours_the_clock_starts_at_the_opening(org: Org, send_signal: Any, as_user: Any):
    opening = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    calendar = BusinessCalendar.objects.create(name="Sales", time_zone="UTC")
    closes = opening + timedelta(hours=4)
    OpeningPeriod.objects.bulk_create(
        OpeningPeriod(
            calendar=calendar,
            weekday=d,
            starts=opening.time(),
            ends=closes.time(),
            overnight=closes.time() <= opening.time(),
        )
        for d in range(7)
    )
    TeamHours.objects.create(team=org.teams["sales"], calendar=calendar)
    assert send_signal(key="form-night").status_code == 202
    handoff = Handoff.objects.get()
    item = as_user("riley").get(f"/api/v1/handoffs/{handoff.pk}/").json()
    assert instant(item["sla_started_at"]) == opening
    assert instant(item["sla_clock"]["due_at"]) == opening + timedelta(minutes=15)
