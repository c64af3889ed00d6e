"""Inbox filters: view, team, trigger and priority together, in the page, its links, its counts
and the live stream (a pushed handoff the filter hides is not inserted)."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from conftest import Org
from handoffs.live import LiveView, render_changes
from handoffs.models import Handoff
from handoffs.selectors import InboxFilter
from handoffs.tests.test_views import bulk_handoffs

pytestmark = pytest.mark.django_db


@pytest.fixture
def mix(org: Org) -> dict[str, list[Handoff]]:
    sales = org.teams["sales"]
    return {
        "urgent_value": bulk_handoffs(sales, 2, trigger="high_value", priority="urgent"),
        "angry": bulk_handoffs(sales, 3, start=10, trigger="sentiment", priority="high"),
        "mine": bulk_handoffs(
            sales, 1, start=20, trigger="sentiment", priority="high", assignee=org.users["riley"]
        ),
    }


def rows(html: str) -> int:
    return html.count('role="row" tabindex="-1"')


def test_trigger_and_priority_narrow_the_rows_and_the_counts(client, org, mix):
    client.force_login(org.users["riley"])

    page = client.get("/inbox/?trigger=sentiment").content.decode()
    assert rows(page) == 4
    assert '>All open <span class="count">4</span>' in page
    assert '>Mine <span class="count">1</span>' in page
    assert '<option value="sentiment" selected>' in page

    urgent = client.get("/inbox/?priority=urgent&view=unassigned").content.decode()
    assert rows(urgent) == 2
    # Tabs keep the filter; "Clear filters" drops trigger and priority only.
    assert 'href="?view=mine&amp;priority=urgent"' in urgent
    assert 'href="?view=unassigned">Clear filters' in urgent


def test_unknown_filter_values_are_ignored_not_errors(client, org, mix):
    client.force_login(org.users["riley"])

    response = client.get("/inbox/?trigger=<script>&priority=9999&view=nope&team=other")

    assert response.status_code == 200
    assert rows(response.content.decode()) == 6


def test_the_live_socket_url_carries_the_filter(client, org, mix):
    client.force_login(org.users["riley"])

    page = client.get("/inbox/?trigger=high_value&priority=urgent").content.decode()

    assert (
        'ws-connect="/ws/ui/?view=all&amp;trigger=high_value&amp;priority=urgent&amp;page=inbox'
        in page
    )


def test_a_pushed_handoff_the_filter_hides_is_not_inserted(org, mix):
    only_angry = LiveView.from_query({"page": "inbox", "trigger": "sentiment"})
    value = mix["urgent_value"][0]
    angry = mix["angry"][0]

    hidden = render_changes(
        user=org.users["riley"], view=only_angry, changes={value.pk: "created"}, seq=1
    )
    shown = render_changes(
        user=org.users["riley"], view=only_angry, changes={angry.pk: "created"}, seq=2
    )

    assert 'hx-swap-oob="afterbegin"' not in hidden
    assert f'id="handoff-row-{angry.pk}"' in shown and 'hx-swap-oob="afterbegin"' in shown
    assert '>All open <span class="count">4</span>' in shown  # counts under the same filter


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", InboxFilter()),
        ("view=mine&trigger=complexity", InboxFilter(view="mine", trigger="complexity")),
        ("priority=urgent&team=sales", InboxFilter(team="sales", priority="urgent")),
        ("trigger=bogus&priority=", InboxFilter()),
    ],
)
def test_the_filter_reads_the_query_string(query, expected):
    assert InboxFilter.from_query(QueryDict(query)) == expected


def test_the_inbox_sorts_by_the_running_sla_clock_with_paused_clocks_last(org):
    """A next reply due in 5 minutes comes before a first reply due in an hour; a clock paused
    while waiting on the contact (no running due time) sorts last."""
    from datetime import timedelta

    from django.utils import timezone

    from handoffs.selectors import inbox_queryset

    sales = org.teams["sales"]
    first_hour, next_soon, paused = bulk_handoffs(sales, 3, trigger="sentiment", priority="high")
    now = timezone.now()
    Handoff.objects.filter(pk=first_hour.pk).update(sla_due_at=now + timedelta(hours=1))
    Handoff.objects.filter(pk=next_soon.pk).update(
        first_response_due_at=now - timedelta(days=1), sla_due_at=now + timedelta(minutes=5)
    )
    Handoff.objects.filter(pk=paused.pk).update(
        first_response_due_at=now - timedelta(days=2), sla_due_at=None
    )

    order = list(inbox_queryset(user=org.users["riley"]).values_list("pk", flat=True))

    assert order == [next_soon.pk, first_hour.pk, paused.pk]
