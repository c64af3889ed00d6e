"""retry_while_unreachable: a write after an irrevocable send is tried again across a database
outage for as long as the sender's lease lasts — and no longer (past it the sweep may hand the
work on, so the error must surface). Time is the lease's, read from the wall clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from portal import outage
from portal.outage import retry_while_unreachable


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits asked for, without waiting (the clock is moved on by each one)."""
    asked: list[float] = []
    start = timezone.now()

    def sleep(seconds: float) -> None:
        asked.append(seconds)

    monkeypatch.setattr(outage.time, "sleep", sleep)
    monkeypatch.setattr(outage.timezone, "now", lambda: start + timedelta(seconds=sum(asked)))
    return asked


def failing(times: int, error: type[Exception] = OperationalError):
    calls: list[int] = []

    def record() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error("connection refused")
        return "recorded"

    return record, calls


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_an_outage_shorter_than_the_lease_costs_a_wait_not_an_error(
    pauses: list[float], error: type[Exception]
) -> None:
    record, calls = failing(5, error)
    until = timezone.now() + timedelta(seconds=40)
    assert retry_while_unreachable(record, until=until) == "recorded"
    assert len(calls) == 6
    assert pauses == [0.5, 1.0, 2.0, 4.0, 5.0]  # backing off, capped at 5 s


def test_the_whole_lease_is_used_then_the_error_surfaces(pauses: list[float]) -> None:
    record, calls = failing(1_000)
    until = timezone.now() + timedelta(seconds=33)
    with pytest.raises(OperationalError):
        retry_while_unreachable(record, until=until)
    # 0.5 + 1 + 2 + 4 + 5 x 5 = 32.5 s, then the last 0.5 s: never waiting past the lease.
    assert sum(pauses) == pytest.approx(33.0)
    assert len(calls) == len(pauses) + 1


def test_a_lease_already_over_is_not_waited_on(pauses: list[float]) -> None:
    record, calls = failing(1)
    with pytest.raises(OperationalError):
        retry_while_unreachable(record, until=timezone.now() - timedelta(seconds=1))
    assert calls == [1] and pauses == []


def test_other_errors_are_not_retried(pauses: list[float]) -> None:
    record, calls = failing(1, ValueError)
    with pytest.raises(ValueError):
        retry_while_unreachable(record, until=timezone.now() + timedelta(seconds=40))
    assert calls == [1] and pauses == []
