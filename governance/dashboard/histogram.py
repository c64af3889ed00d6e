"""Durations as fixed log-scaled buckets, so medians and p90s merge across rollup rows.

Pure: no ORM. The same rule runs in SQL (`governance/dashboard/sql.py`, `bucket_expression`)
when the rollups are refreshed, and here when the page reads them back and when tests
hand-compute what the page must show (docs/dashboard.md, "Precision").

- A duration under one second falls in bucket 0 and reads as 0 s.
- A duration `s` ≥ 1 s falls in bucket `k = floor(ln(s) / ln(GAMMA)) + 1`, which holds
  [GAMMA^(k-1), GAMMA^k) seconds, and reads as `2·GAMMA^k / (GAMMA + 1)`: never more than
  `ALPHA` (2 %) away from any duration in the bucket.
- The q-quantile of n durations is the value of the bucket holding the nearest-rank duration,
  rank `ceil(q·n)` counted from the shortest (so the median of 4 is the 2nd shortest).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import timedelta

ALPHA = 0.02  # relative precision of every reported duration
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LN_GAMMA = math.log(GAMMA)


def bucket_of(seconds: float) -> int:
    if seconds < 1:
        return 0
    return math.floor(math.log(seconds) / LN_GAMMA) + 1


def bucket_value(bucket: int) -> float:
    """The seconds a bucket reads as."""
    if bucket <= 0:
        return 0.0
    return 2 * GAMMA**bucket / (GAMMA + 1)


def quantile(counts: Mapping[int, int], q: float) -> timedelta | None:
    """The q-quantile (0 < q ≤ 1) of the durations counted per bucket; None when there are none."""
    total = sum(n for n in counts.values() if n > 0)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total - 1e-9))
    seen = 0
    for bucket in sorted(counts):
        seen += max(0, counts[bucket])
        if seen >= rank:
            return timedelta(seconds=bucket_value(bucket))
    return timedelta(seconds=bucket_value(max(counts)))  # unreachable: seen reaches total


def merge(rows: Iterable[tuple[int, int]]) -> dict[int, int]:
    """(bucket, count) pairs, summed per bucket."""
    merged: dict[int, int] = {}
    for bucket, n in rows:
        merged[bucket] = merged.get(bucket, 0) + n
    return merged


def estimate(seconds: float) -> timedelta:
    """What the dashboard shows for one duration: its bucket's value (tests use this)."""
    return timedelta(seconds=bucket_value(bucket_of(seconds)))
