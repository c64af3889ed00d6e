"""Pushes to the sockets of one process are read in a batch (handoffs/consumers.py `_Pushes`):
readers who see the same teams share one read of the log, one read of the handoffs and one
count per filter (live.Frame) — and still each get the row as it looks to them: offered to
their role or not, claimed by them or by someone else, with or without a Claim button."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import Org
from handoffs import live
from handoffs.consumers import LiveUIConsumer, _pull_batch
from handoffs.models import Handoff
from handoffs.selectors import event_log_head
from handoffs.services import handoff_claim
from portal.choices import Role
from portal.services import membership_set

pytestmark = pytest.mark.django_db


def reader(user: Any, *, since: int, view: str = "all") -> LiveUIConsumer:
    """An inbox socket as it stands after connecting (rights just read)."""
    socket = LiveUIConsumer()
    socket.principal, socket.sight = user, live.sight_for(user)
    socket.view = live.LiveView.from_query({"page": "inbox", "view": view})
    socket.last_seq = since
    socket.rights_checked_at = time.monotonic()
    return socket


def html_of(pulled: Any) -> str:
    recheck, _rights, payloads = pulled
    assert not recheck
    return "".join(p for p in payloads if isinstance(p, str))


def tab(html: str, label: str) -> int:
    match = re.search(rf'{label} <span class="count">(\d+)</span>', html)
    assert match is not None, html
    return int(match.group(1))


@pytest.fixture
def sales_reps(org: Org, django_user_model: Any) -> list[Any]:
    reps = []
    for n in range(10):
        rep = django_user_model.objects.create_user(username=f"rep{n}", password="pw")
        membership_set(user=rep, team=org.teams["sales"], role=Role.REP)
        reps.append(rep)
    return reps


def raise_handoff(send_signal: Any, external_id: str = "c-1001") -> Handoff:
    response = send_signal(budget=50000, key=f"form-{external_id}", external_id=external_id)
    assert response.status_code == 202, response.content
    return Handoff.objects.get(contact__external_id=external_id)


def test_readers_of_one_team_cost_the_queries_of_one(
    org: Org, sales_reps: list[Any], send_signal: Any
) -> None:
    since = event_log_head()
    raise_handoff(send_signal)

    def queries(readers: list[LiveUIConsumer]) -> int:
        with CaptureQueriesContext(connection) as captured:
            pulled = _pull_batch(readers)
            assert all("Budget 50,000 GBP" in html_of(p) for p in pulled.values())
        return len(captured)

    few = queries([reader(u, since=since) for u in sales_reps[:2]])
    many = queries([reader(u, since=since) for u in sales_reps])
    assert few == many == 3  # the log, the handoffs it names, the tab counts
    # Someone who sees other teams too reads on their own (a frame per set of teams).
    mixed = [reader(u, since=since) for u in sales_reps] + [reader(org.users["lee"], since=since)]
    assert queries(mixed) == 2 * 3


def test_each_reader_sees_the_row_as_it_is_for_them(
    org: Org, sales_reps: list[Any], send_signal: Any
) -> None:
    since = event_log_head()
    handoff = raise_handoff(send_signal)  # urgent, offered to the sales director
    people = {name: org.users[name] for name in ("riley", "rob", "sam", "casey")}
    sockets = {name: reader(user, since=since) for name, user in people.items()}

    offered = {
        name: html_of(p)
        for name, p in zip(people, _pull_batch(list(sockets.values())).values(), strict=True)
    }
    assert "Offered to you" in offered["sam"]
    assert "Offered to you" not in offered["riley"]
    assert 'hx-swap-oob="afterbegin"' in offered["riley"]  # new: prepended to the list
    assert offered["casey"] == ""  # nothing of a team she cannot see
    for name in ("riley", "rob", "sam"):
        assert "data-claim" in offered[name]  # all three may work sales

    handoff_claim(handoff_id=handoff.pk, user=people["riley"])
    claimed = {
        name: html_of(p)
        for name, p in zip(people, _pull_batch(list(sockets.values())).values(), strict=True)
    }
    assert "Claimed by you" in claimed["riley"]
    assert "Claimed by Riley Reed" in claimed["rob"] and "Claimed by Riley Reed" in claimed["sam"]
    assert "Offered to you" not in claimed["sam"]
    assert "data-claim" not in claimed["rob"]
    assert (tab(claimed["riley"], "Mine"), tab(claimed["rob"], "Mine")) == (1, 0)
    assert tab(claimed["rob"], "All open") == tab(claimed["riley"], "All open") == 1
    assert tab(claimed["rob"], "Unassigned") == 0
    # Each socket moved on to the seq it was sent up to: a third read finds nothing new.
    again = _pull_batch(list(sockets.values()))
    assert all(html_of(p) == "" for p in again.values())


def test_the_shared_row_is_the_row_the_reader_would_get_alone(
    org: Org, sales_reps: list[Any], send_signal: Any
) -> None:
    since = event_log_head()
    raise_handoff(send_signal)
    together = _pull_batch([reader(org.users[n], since=since) for n in ("riley", "sam", "rob")])
    for name, pulled in zip(("riley", "sam", "rob"), together.values(), strict=True):
        alone = html_of(_pull_batch([reader(org.users[name], since=since)]).popitem()[1])
        assert html_of(pulled) == alone


def test_a_reader_whose_rights_are_due_is_rechecked_in_the_same_batch(
    org: Org, send_signal: Any
) -> None:
    since = event_log_head()
    raise_handoff(send_signal)
    stale = reader(org.users["riley"], since=since)
    stale.rights_checked_at = 0.0  # due
    recheck, rights, payloads = _pull_batch([stale])[stale]
    assert recheck and rights is not None and rights[0].pk == org.users["riley"].pk
    assert any("Budget 50,000 GBP" in p for p in payloads if isinstance(p, str))

    org.users["riley"].is_active = False
    org.users["riley"].save(update_fields=["is_active"])
    stale.rights_checked_at = 0.0
    assert _pull_batch([stale])[stale] == (True, None, [])  # revoked: nothing more is read
