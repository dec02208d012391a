"""What to do about the token, decided from plain values: no I/O, no clock of its own.

A call asks ``decide_token`` before it sends and ``after_rejection`` when Paynet answers
"unauthorized"; the answer is to use a token (``UseToken``), to wait for a refresh of a given
generation (``AwaitRefresh``), or to give up with a cause (``NoToken``). Keeping this pure lets
every branch be tested with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from worker.core.causes import Cause
from worker.settings import EXPIRY_LEEWAY, TokenTiming
from worker.tokens.record import TokenRecord

# What a waiting task says when an outage it met on an earlier poll made it give up.
OUTAGES = {
    Cause.REDIS_UNAVAILABLE: "Redis (refresh requests and lock) could not be reached",
    Cause.BROKER_UNAVAILABLE: "the broker took no refresh task",
    Cause.DATABASE_UNAVAILABLE: "the token store's database could not be reached",
}


@dataclass(frozen=True)
class TokenWait:
    """A task's wait for a token, carried across retries: Celery's own retry counter is not ours."""

    since: float  # epoch seconds when this task first had to wait for a token
    stale_generation: int  # the generation that was missing, expired or rejected
    cycles: int = 0  # fresh tokens rejected for this task so far
    cause: str | None = None  # the outage (Redis, database) its last poll ran into, if any


@dataclass(frozen=True)
class UseToken:
    token: str
    generation: int


@dataclass(frozen=True)
class AwaitRefresh:
    wait: TokenWait


@dataclass(frozen=True)
class NoToken:
    cause: Cause | str
    detail: str


Decision = UseToken | AwaitRefresh | NoToken


def describe(profile: str, cause: Cause | str, detail: str) -> str:
    """The message a waiting task receives in ``TokenUnavailable``."""
    return f"no Paynet token for profile {profile!r}: {cause} ({detail})"


# A waiting task looks again after WAIT_STEP at first, the step growing with the wait to
# MAX_POLL_STEP: a refresh takes a login's time, and a long wait (a slow login, an outage) costs
# a poll a second.
WAIT_STEP = 0.1
MAX_POLL_STEP = 1.0
# Fresh tokens Paynet may reject in a row for one task before it gives up: more means Paynet
# rejects every token it issues, and logging in again would not help.
MAX_REFRESH_CYCLES = 3


def poll_step(waited: float) -> float:
    """Seconds until a waiting task looks again: WAIT_STEP at first, growing with the wait."""
    return min(MAX_POLL_STEP, max(WAIT_STEP, waited / 4))


def usable(record: TokenRecord, now: datetime, leeway: float = EXPIRY_LEEWAY) -> bool:
    """A token is usable while it exists and is not within ``leeway`` of its expiry."""
    if record.token is None:
        return False
    return record.expires_at is None or now < record.expires_at - timedelta(seconds=leeway)


def refused_recently(record: TokenRecord, now: datetime, cooldown: float) -> bool:
    failure = record.failure
    return (
        failure is not None and failure.permanent and now - failure.at < timedelta(seconds=cooldown)
    )


def _gave_up(wait: TokenWait, record: TokenRecord, policy: TokenTiming) -> NoToken:
    """The wait bound has passed: say why, the outage or the last login failure first."""
    bound = f"gave up after {policy.wait_timeout:g} s"
    if wait.cause is not None:
        outage = Cause(wait.cause)
        return NoToken(outage, f"{OUTAGES[outage]}; {bound}")
    if record.failure is not None:
        return NoToken(record.failure.cause, f"{record.failure.detail}; {bound}")
    return NoToken(
        Cause.WAIT_TIMEOUT, f"no token refresh finished within {policy.wait_timeout:g} s"
    )


def decide_token(
    record: TokenRecord, now: datetime, wait: TokenWait | None, policy: TokenTiming
) -> Decision:
    """Before a call: use the stored token, or wait for a refresh, or give up."""
    fresh = usable(record, now)
    if (
        fresh
        and record.token is not None
        and (wait is None or record.generation > wait.stale_generation)
    ):
        return UseToken(record.token, record.generation)
    failure = record.failure
    if refused_recently(record, now, policy.refused_cooldown) and failure is not None:
        return NoToken(failure.cause, failure.detail)
    stale = record.generation if wait is None else max(wait.stale_generation, record.generation)
    if wait is None:
        return AwaitRefresh(TokenWait(now.timestamp(), stale))
    if now.timestamp() - wait.since >= policy.wait_timeout:
        return _gave_up(wait, record, policy)
    return AwaitRefresh(TokenWait(wait.since, stale, wait.cycles))


def during_outage(
    wait: TokenWait | None,
    stale_generation: int,
    now: datetime,
    cause: Cause,
    detail: str,
    policy: TokenTiming,
) -> AwaitRefresh | NoToken:
    """Redis or the database could not be reached: wait like for a refresh, within the bound."""
    if wait is None:
        return AwaitRefresh(TokenWait(now.timestamp(), stale_generation, 0, cause.value))
    if now.timestamp() - wait.since >= policy.wait_timeout:
        return NoToken(cause, f"{detail}; gave up after {policy.wait_timeout:g} s")
    return AwaitRefresh(TokenWait(wait.since, wait.stale_generation, wait.cycles, cause.value))


def wait_after_rejection(
    wait: TokenWait | None, rejected_generation: int, now: datetime
) -> TokenWait:
    """The wait state once ``rejected_generation`` was refused: one more refresh cycle."""
    since = wait.since if wait else now.timestamp()
    return TokenWait(since, rejected_generation, (wait.cycles if wait else 0) + 1)


def after_rejection(
    record: TokenRecord, now: datetime, wait: TokenWait, policy: TokenTiming
) -> Decision:
    """The provider said "unauthorized"; ``record`` is fresh from the DB, ``wait`` already
    counts it."""
    if wait.cycles > MAX_REFRESH_CYCLES:
        return NoToken(
            Cause.REJECTED_AFTER_REFRESH,
            f"the provider rejected {wait.cycles} tokens in a row for this request, fresh ones "
            "included",
        )
    return decide_token(record, now, wait, policy)
