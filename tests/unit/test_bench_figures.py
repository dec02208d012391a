"""The benchmark's arithmetic: percentiles and throughput from raw timings."""

from __future__ import annotations

import math

import pytest

from bench.stats import percentile, summarize


@pytest.mark.parametrize(
    ("fraction", "expected"), [(0.5, 50.0), (0.99, 99.0), (1.0, 100.0), (0.001, 1.0)]
)
def test_percentile_is_the_nearest_rank(fraction: float, expected: float) -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, fraction) == expected


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 0.5))


def test_summary_measures_latency_per_task_and_throughput_over_the_whole_span() -> None:
    timing = summarize(sent=[0.0, 0.0, 1.0, 1.0], done=[0.5, 1.0, 1.5, 2.0])
    assert timing.count == 4
    assert timing.seconds == 2.0
    assert timing.per_second == 2.0
    assert timing.p50 == 0.5
    assert timing.maximum == 1.0
