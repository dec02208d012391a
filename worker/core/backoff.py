"""Exponential steps between attempts: one shape for every wait the gateway takes."""

from __future__ import annotations

import random


def step(attempt: int, initial: float, maximum: float) -> float:
    """``initial`` doubled for each attempt after the first, never above ``maximum``."""
    return float(min(maximum, initial * 2 ** min(max(0, attempt - 1), 32)))


def backoff(attempt: int, initial: float, maximum: float, rand: float | None = None) -> float:
    """The step with full-range jitter in [50 %, 100 %] of it, so retries do not march together."""
    jitter = random.random() if rand is None else rand  # noqa: S311 - spreads retries, no secret
    return step(attempt, initial, maximum) * (0.5 + jitter / 2)
