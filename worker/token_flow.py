"""What to do about the token, decided from plain values: no I/O, no clock of its own.

The gateway asks ``decide`` before a call and ``after_rejection`` when Paynet answers
"unauthorized"; the answer is to use a token, to wait for a refresh of a given generation, or to
give up with a cause. Keeping this pure lets every branch be tested with plain values.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from worker.causes import OUTAGES, Cause
from worker.settings import TokenSettings
from worker.token_store import TokenRecord


@dataclass(frozen=True)
class WaitState:
    """Carried in the task's kwargs across retries: Celery's own retry counter is not ours."""

    since: float  # epoch seconds when this task first had to wait for a token
    stale_generation: int  # the generation that was missing, expired or rejected
    cycles: int = 0  # fresh tokens rejected for this task so far
    cause: str | None = None  # the outage (Redis, database) its last poll ran into, if any

    def to_kwargs(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_kwargs(cls, value: Any) -> WaitState | None:
        if value is None:
            return None
        keys = {"since", "stale_generation", "cycles"}
        if not isinstance(value, dict) or set(value) - {"cause"} != keys:
            raise ValueError("_wait must be the gateway's own wait state")
        since, stale, cycles = value["since"], value["stale_generation"], value["cycles"]
        if not isinstance(since, int | float) or not isinstance(stale, int):
            raise ValueError("_wait holds values of the wrong type")
        if not isinstance(cycles, int):
            raise ValueError("_wait holds values of the wrong type")
        cause = value.get("cause")
        if cause is not None and cause not in {outage.value for outage in OUTAGES}:
            raise ValueError("_wait holds an unknown cause")
        return cls(float(since), stale, cycles, cause)


@dataclass(frozen=True)
class UseToken:
    token: str
    generation: int


@dataclass(frozen=True)
class AwaitRefresh:
    wait: WaitState


@dataclass(frozen=True)
class GiveUp:
    cause: Cause | str
    detail: str


Decision = UseToken | AwaitRefresh | GiveUp


def usable(record: TokenRecord, now: datetime, leeway: float) -> bool:
    """A token is usable while it exists and is not within ``leeway`` of its expiry."""
    if record.token is None:
        return False
    return record.expires_at is None or now < record.expires_at - timedelta(seconds=leeway)


def refused_recently(record: TokenRecord, now: datetime, cooldown: float) -> bool:
    failure = record.failure
    return (
        failure is not None and failure.permanent and now - failure.at < timedelta(seconds=cooldown)
    )


def decide(
    record: TokenRecord, now: datetime, wait: WaitState | None, policy: TokenSettings
) -> Decision:
    """Before a call: use the stored token, or wait for a refresh, or give up."""
    fresh = usable(record, now, policy.expiry_leeway)
    if (
        fresh
        and record.token is not None
        and (wait is None or record.generation > wait.stale_generation)
    ):
        return UseToken(record.token, record.generation)
    failure = record.failure
    if refused_recently(record, now, policy.refused_cooldown) and failure is not None:
        return GiveUp(failure.cause, failure.detail)
    stale = record.generation if wait is None else max(wait.stale_generation, record.generation)
    if wait is None:
        return AwaitRefresh(WaitState(now.timestamp(), stale))
    if now.timestamp() - wait.since >= policy.wait_timeout:
        if wait.cause is not None:
            outage = Cause(wait.cause)
            return GiveUp(outage, f"{OUTAGES[outage]}; gave up after {policy.wait_timeout:g} s")
        if failure is not None:
            return GiveUp(
                failure.cause, f"{failure.detail}; gave up after {policy.wait_timeout:g} s"
            )
        return GiveUp(
            Cause.WAIT_TIMEOUT, f"no token refresh finished within {policy.wait_timeout:g} s"
        )
    return AwaitRefresh(WaitState(wait.since, stale, wait.cycles))


def during_outage(
    wait: WaitState | None,
    stale_generation: int,
    now: datetime,
    cause: Cause,
    detail: str,
    policy: TokenSettings,
) -> AwaitRefresh | GiveUp:
    """Redis or the database could not be reached: wait like for a refresh, within the bound."""
    if wait is None:
        return AwaitRefresh(WaitState(now.timestamp(), stale_generation, 0, cause.value))
    if now.timestamp() - wait.since >= policy.wait_timeout:
        return GiveUp(cause, f"{detail}; gave up after {policy.wait_timeout:g} s")
    return AwaitRefresh(WaitState(wait.since, wait.stale_generation, wait.cycles, cause.value))


def wait_after_rejection(
    wait: WaitState | None, rejected_generation: int, now: datetime
) -> WaitState:
    """The wait state once ``rejected_generation`` was refused: one more refresh cycle."""
    since = wait.since if wait else now.timestamp()
    return WaitState(since, rejected_generation, (wait.cycles if wait else 0) + 1)


def after_rejection(
    record: TokenRecord, now: datetime, wait: WaitState, policy: TokenSettings
) -> Decision:
    """Paynet said "unauthorized"; ``record`` is fresh from the DB, ``wait`` already counts it."""
    if wait.cycles > policy.max_refresh_cycles:
        return GiveUp(
            Cause.REJECTED_AFTER_REFRESH,
            f"Paynet rejected {wait.cycles} tokens in a row for this request, fresh ones included",
        )
    return decide(record, now, wait, policy)


def backoff(attempt: int, initial: float, maximum: float, rand: float | None = None) -> float:
    """Exponential backoff with full-range jitter in [50 %, 100 %] of the step."""
    step = min(maximum, initial * 2 ** max(0, attempt - 1))
    jitter = random.random() if rand is None else rand
    return float(step * (0.5 + jitter / 2))
