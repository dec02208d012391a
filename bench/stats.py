"""Figures from raw timings: percentiles and throughput, pure so they are easy to check."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Timing:
    count: int
    seconds: float
    p50: float
    p99: float
    maximum: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else math.nan


def summarize(sent: Sequence[float], done: Sequence[float]) -> Timing:
    """``sent``/``done``: epoch seconds per task, in the same order."""
    latencies = [d - s for s, d in zip(sent, done, strict=True)]
    span = max(done) - min(sent) if done else 0.0
    return Timing(
        len(latencies),
        span,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        max(latencies, default=math.nan),
    )
