"""Settings read once per unit of work.

Inside `memo_scope()` — a batch of signals in one transaction (journeys/ingestion.py) — a
function decorated `@per_scope` answers a repeated call with the same arguments from its first
answer; outside a scope it runs every time. A batch that raises twenty handoffs for one team
then reads that team's SLA terms once, not twenty times. Only for reads of settings the unit of
work does not change itself, whose answers nobody mutates."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_local = threading.local()


@contextmanager
def memo_scope() -> Iterator[None]:
    outer = getattr(_local, "memo", None) is None
    if outer:
        _local.memo = {}
    try:
        yield
    finally:
        if outer:
            _local.memo = None


def per_scope[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        memo: dict[Any, Any] | None = getattr(_local, "memo", None)
        if memo is None:
            return fn(*args, **kwargs)
        key = (fn.__module__, fn.__qualname__, args, tuple(sorted(kwargs.items())))
        if key not in memo:
            memo[key] = fn(*args, **kwargs)
        return memo[key]  # type: ignore[no-any-return]

    return wrapper
