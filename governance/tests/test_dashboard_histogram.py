"""The duration histogram the dashboard's medians and p90s are read from (docs/dashboard.md,
"Precision"): every reported value within 2 % of a duration in its bucket, the nearest-rank rule,
and the SQL bucket agreeing with the Python one."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.dashboard import histogram
from governance.dashboard.histogram import ALPHA, bucket_of, bucket_value, estimate, quantile


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [(0, 0), (0.4, 0), (0.999, 0), (1, 1), (1.03, 1), (1.05, 2), (60, 103), (3600, 205)],
)
def test_buckets_are_log_spaced_from_one_second(seconds: float, bucket: int) -> None:
    assert bucket_of(seconds) == bucket


@given(st.floats(min_value=1, max_value=400 * 86400, allow_nan=False))
def test_every_duration_reads_within_two_percent(seconds: float) -> None:
    value = bucket_value(bucket_of(seconds))
    assert abs(value - seconds) <= ALPHA * seconds * (1 + 1e-9)


def test_the_median_is_the_nearest_rank_value_and_p90_the_ninth_decile() -> None:
    counts = histogram.merge((bucket_of(s), 1) for s in [300, 60, 3600, 600])
    # four durations: the median is the 2nd shortest (rank ceil(0.5·4) = 2), p90 the 4th
    assert quantile(counts, 0.5) == estimate(300)
    assert quantile(counts, 0.9) == estimate(3600)
    assert quantile({}, 0.5) is None


def test_under_a_second_reads_as_zero() -> None:
    assert quantile({0: 3}, 0.5) == timedelta(0)


def test_merging_sums_counts_per_bucket() -> None:
    assert histogram.merge([(3, 1), (5, 2), (3, 4)]) == {3: 5, 5: 2}


@pytest.mark.django_db
@pytest.mark.parametrize("seconds", [0.5, 1, 59.9, 61, 3601, 90061, 2_000_000])
def test_the_sql_bucket_is_the_python_bucket(seconds: float, django_db_setup: Any) -> None:
    from django.db.models import FloatField, Value

    from governance.dashboard.models import RefreshState
    from governance.dashboard.sql import bucket_expression

    row = (
        RefreshState.objects.annotate(b=bucket_expression(Value(seconds, FloatField())))
        .values_list("b", flat=True)
        .first()
    )
    assert row == bucket_of(seconds)
    assert not math.isnan(bucket_value(row))
