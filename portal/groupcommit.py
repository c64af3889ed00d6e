"""Group commit: many request threads, one transaction for what they sent at the same moment.

Under ASGI each request runs its sync view in a thread of its own. When a write is cheap to do
set-based but dear to do alone (one transaction, one fsync, the configuration read once), the
request threads hand their items to one committer thread per process and wait: the committer
takes everything queued, runs the batch function on it in one go, and hands each thread its own
outcome. Nothing waits on a timer: while a batch commits the next one gathers, so batches grow
with the load and a lone request goes straight through.

The batch function returns one outcome per item, in order; an exception it raises reaches every
waiter of that batch (so a database outage is every request's 503, and nobody gets a 202 for
something that was not committed). `isolate` re-runs a failed batch item by item, so one item
that breaks the batch fails alone; `shares_fate` says an error (an outage) is also the answer of
everything queued behind the batch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from django.db import connections


class GroupCommit[Item, Outcome]:
    def __init__(
        self,
        batch: Callable[[Sequence[Item]], Sequence[Outcome]],
        *,
        name: str,
        max_items: int = 500,
        isolate: Callable[[BaseException], bool] = lambda exc: False,
        shares_fate: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        self._batch = batch
        self._name = name
        self._max_items = max_items
        self._isolate = isolate
        self._shares_fate = shares_fate
        self._pending: list[tuple[Item, Future[Outcome]]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, item: Item) -> Outcome:
        """Block until the batch holding `item` has committed; its outcome or its exception."""
        return self.enqueue(item).result()

    def enqueue(self, item: Item) -> Future[Outcome]:
        """Queue `item` without waiting: the future settles once its batch has committed (an
        event loop awaits it with asyncio.wrap_future, holding no thread)."""
        future: Future[Outcome] = Future()
        with self._wake:
            self._pending.append((item, future))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._wake:
                idle = not self._pending
            if idle:
                # Back to the pool while nothing is queued, so no batch reuses a connection
                # the database dropped while the thread waited. Under load the queue is never
                # empty and one connection serves batch after batch (taking one from the pool
                # costs round trips).
                connections.close_all()
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                taken = self._pending[: self._max_items]
                del self._pending[: self._max_items]
            self._commit(taken)

    def _commit(self, taken: list[tuple[Item, Future[Outcome]]]) -> None:
        try:
            outcomes = self._batch([item for item, _ in taken])
        except BaseException as exc:  # every waiter hears it, whatever it is
            if len(taken) > 1 and self._isolate(exc):
                for one in taken:
                    self._commit([one])
                return
            if self._shares_fate(exc):
                # The database is gone: what is queued meanwhile would meet the same error
                # after its own wait for a connection; it hears it now instead, so no request
                # waits out one pool timeout per batch ahead of it.
                with self._wake:
                    taken = taken + self._pending
                    self._pending = []
            for _, future in taken:
                future.set_exception(exc)
            connections.close_all()  # the next batch starts on a fresh connection
        else:
            for (_, future), outcome in zip(taken, outcomes, strict=True):
                future.set_result(outcome)
