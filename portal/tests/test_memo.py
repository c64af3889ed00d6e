"""Settings read once per batch (portal/memo.py): a batch raising many handoffs reads each
team's SLA terms, the triage settings and the webhook subscriptions once."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import signal_body
from handoffs.models import Handoff
from portal.memo import memo_scope, per_scope

calls: list[int] = []


@per_scope
def _double(n: int, *, plus: int = 0) -> int:
    calls.append(n)
    return 2 * n + plus


def test_a_scope_answers_repeats_from_the_first_answer_and_only_inside_it() -> None:
    calls.clear()
    with memo_scope():
        assert [_double(1), _double(1), _double(2), _double(1, plus=1)] == [2, 2, 4, 3]
        with memo_scope():  # nested: the same scope
            assert _double(2) == 4
    assert calls == [1, 2, 1]
    assert _double(1) == 2  # outside a scope: every call runs
    assert calls == [1, 2, 1, 1]


@pytest.mark.django_db
def test_a_batch_raising_many_handoffs_reads_each_setting_once(org: Any, integration: Any) -> None:
    items = [signal_body(external_id=f"m-{n}", budget=90000) for n in range(8)]
    with CaptureQueriesContext(connection) as queries:
        response = integration.post("/api/v1/signals/batch/", {"signals": items}, format="json")
    assert response.status_code == 202, response.content
    assert Handoff.objects.count() == 8

    def reads(table: str) -> int:
        return sum(1 for q in queries if q["sql"].startswith("SELECT") and f'"{table}"' in q["sql"])

    assert reads("governance_slapolicy") == 1
    assert reads("handoffs_triagesettings") <= 1  # read only for an after-hours reply
    assert reads("integrations_webhooksubscription") <= 1
