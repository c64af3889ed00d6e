"""Group commit: concurrent single signals share a transaction, each still gets its own answer."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from handoffs.models import Handoff
from journeys.ingestion import body_hash, signal_ingest
from journeys.models import Signal
from portal.errors import Conflict
from portal.groupcommit import GroupCommit
from portal.models import ApiKey


class Recorder:
    def __init__(self, gate: threading.Event | None = None, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate
        self.fail_on = fail_on

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        if self.gate is not None and len(self.batches) == 1:
            self.gate.wait(10)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [item * 10 for item in items]


def _submit_all(group: GroupCommit[int, int], items: list[int]) -> list[Any]:
    def one(item: int) -> Any:
        try:
            return group.submit(item)
        except ValueError as exc:
            return str(exc)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(one, items))


def test_items_sent_while_a_batch_commits_go_together_in_the_next_one():
    gate = threading.Event()
    recorder = Recorder(gate)
    group: GroupCommit[int, int] = GroupCommit(recorder, name="test-group")
    first = threading.Thread(target=group.submit, args=(0,))
    first.start()
    while not recorder.batches:  # the first batch is running and held at the gate
        threading.Event().wait(0.01)
    results: list[Any] = []
    waiter = threading.Thread(target=lambda: results.extend(_submit_all(group, list(range(1, 9)))))
    waiter.start()
    while len(group._pending) < 8:
        threading.Event().wait(0.01)
    gate.set()
    first.join(10)
    waiter.join(10)
    assert recorder.batches[0] == [0]
    assert sorted(recorder.batches[1]) == list(range(1, 9))  # one batch, not eight
    assert results == [item * 10 for item in range(1, 9)]  # each its own outcome


def test_a_failing_batch_is_rerun_one_by_one_so_only_the_bad_item_fails():
    gate = threading.Event()
    recorder = Recorder(gate, fail_on=3)
    group: GroupCommit[int, int] = GroupCommit(
        recorder, name="test-isolate", isolate=lambda exc: True
    )
    first = threading.Thread(target=group.submit, args=(0,))
    first.start()
    while not recorder.batches:
        threading.Event().wait(0.01)
    results: list[Any] = []
    waiter = threading.Thread(target=lambda: results.extend(_submit_all(group, [1, 2, 3, 4])))
    waiter.start()
    while len(group._pending) < 4:
        threading.Event().wait(0.01)
    gate.set()
    waiter.join(10)
    assert results == [10, 20, "bad item 3", 40]


def test_without_isolation_every_waiter_of_the_batch_hears_the_failure():
    gate = threading.Event()
    recorder = Recorder(gate, fail_on=2)
    group: GroupCommit[int, int] = GroupCommit(recorder, name="test-outage")
    first = threading.Thread(target=group.submit, args=(0,))
    first.start()
    while not recorder.batches:
        threading.Event().wait(0.01)
    results: list[Any] = []
    waiter = threading.Thread(target=lambda: results.extend(_submit_all(group, [1, 2, 3])))
    waiter.start()
    while len(group._pending) < 3:
        threading.Event().wait(0.01)
    gate.set()
    waiter.join(10)
    assert results == ["bad item 2"] * 3


class Unreachable(Exception):
    pass


def test_an_outage_is_also_the_answer_of_everything_queued_behind_the_batch():
    """Without it, each queued batch would wait out the pool's timeout in turn: a request
    behind one failing batch answered its 503 after two timeouts (20 s) in a CI run."""
    gate = threading.Event()
    batches: list[list[int]] = []

    def unreachable(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        gate.wait(10)
        raise Unreachable("database unreachable")

    group: GroupCommit[int, int] = GroupCommit(
        unreachable,
        name="test-shares-fate",
        shares_fate=lambda exc: isinstance(exc, Unreachable),
    )
    futures = [group.enqueue(0)]
    while not batches:
        threading.Event().wait(0.01)
    futures += [group.enqueue(item) for item in (1, 2, 3)]
    gate.set()
    for future in futures:
        with pytest.raises(Unreachable):
            future.result(10)
    assert batches == [[0]]  # the queued three never ran a batch of their own


def _signal(key: str, contact: str, budget: int = 100) -> dict[str, Any]:
    return {
        "type": "form_submitted",
        "idempotency_key": key,
        "contact": {"external_id": contact, "email": f"{contact}@example.com"},
        "properties": {"budget": budget, "currency": "GBP"},
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_single_signals_through_the_group_commit_each_answer_once(
    org: Any, api_key: Any, settings: Any
):
    settings.BATON_INGEST_GROUP_COMMIT = True
    key = ApiKey.objects.get()
    sends = [_signal(f"gc-{n}", f"gc-contact-{n % 5}", 60000 if n == 7 else 100) for n in range(20)]
    sends += [_signal("gc-3", "gc-contact-3")] * 4  # the same signal again, at the same time
    sends.append({**_signal("gc-4", "gc-contact-4"), "type": "other"})  # key reused: 409

    def one(data: dict[str, Any]) -> Any:
        try:
            return signal_ingest(api_key=key, data=data, raw_hash=body_hash(data))
        except Conflict as exc:
            return str(exc.detail)

    with ThreadPoolExecutor(len(sends)) as pool:
        answers = list(pool.map(one, sends))

    stored = dict(Signal.objects.values_list("idempotency_key", "id"))
    assert len(stored) == 20
    refused = "This idempotency key was already used with a different body."
    # Whichever of the two gc-4 bodies came first is stored; the other is refused.
    assert sorted([answers[4], answers[24]], key=lambda a: a == refused)[1] == refused
    for data, answer in zip(sends, answers, strict=True):
        if answer != refused:
            assert answer.id == stored[data["idempotency_key"]]
    same = [answers[3], *answers[20:24]]  # one signal sent five times at once
    assert [a.duplicate for a in same].count(False) == 1
    assert Handoff.objects.filter(contact__external_id="gc-contact-2").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_waiting_request_gives_its_connection_back_to_the_pool(org: Any, settings: Any):
    settings.BATON_INGEST_GROUP_COMMIT = True
    key = ApiKey.objects.create(name="pool", prefix="pool", secret_hash="x")

    def request() -> bool:
        ApiKey.objects.count()  # authentication opened this thread's connection
        data = _signal("pool-1", "pool-contact")
        signal_ingest(api_key=key, data=data, raw_hash=body_hash(data))
        return connection.connection is None

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(request).result()
    assert Signal.objects.filter(idempotency_key="pool-1").exists()
