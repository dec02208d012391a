"""The token decisions, driven with plain values: no database, no Redis, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from worker.calls.waits import token_wait_from_kwargs
from worker.core.backoff import backoff
from worker.core.causes import Cause
from worker.paynet.failures import LoginFailure
from worker.settings import TokenSettings
from worker.tokens.policy import (
    EXPIRY_LEEWAY,
    MAX_POLL_STEP,
    WAIT_STEP,
    AwaitRefresh,
    NoToken,
    TokenWait,
    UseToken,
    after_rejection,
    decide_token,
    during_outage,
    poll_step,
    wait_after_rejection,
)
from worker.tokens.record import Failure, TokenRecord
from worker.tokens.refresher import AlreadyFresh, Busy, Failed, Plan, Refreshed, plan_next

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POLICY = TokenSettings(wait_timeout=30, refused_cooldown=300)


def record(generation: int = 1, token: str | None = "tok", **extra: object) -> TokenRecord:
    return TokenRecord("default", generation, token, **extra)  # type: ignore[arg-type]


def test_a_stored_token_is_used() -> None:
    assert decide_token(record(), NOW, None, POLICY) == UseToken("tok", 1)


def test_no_token_asks_for_a_refresh_of_generation_zero() -> None:
    decision = decide_token(TokenRecord("default", 0), NOW, None, POLICY)
    assert decision == AwaitRefresh(TokenWait(NOW.timestamp(), 0))


def test_an_expired_token_asks_for_a_refresh_of_its_generation() -> None:
    expired = record(generation=4, expires_at=NOW - timedelta(seconds=1))
    decision = decide_token(expired, NOW, None, POLICY)
    assert isinstance(decision, AwaitRefresh)
    assert decision.wait.stale_generation == 4


def test_a_token_within_the_leeway_of_its_expiry_counts_as_expired() -> None:
    almost = record(expires_at=NOW + timedelta(seconds=EXPIRY_LEEWAY / 2))
    assert isinstance(decide_token(almost, NOW, None, POLICY), AwaitRefresh)


def test_a_waiting_task_keeps_waiting_while_the_database_holds_the_stale_generation() -> None:
    wait = TokenWait(NOW.timestamp() - 1, stale_generation=1)
    assert decide_token(record(generation=1), NOW, wait, POLICY) == AwaitRefresh(wait)


def test_a_waiting_task_uses_the_newer_generation_once_it_is_stored() -> None:
    wait = TokenWait(NOW.timestamp() - 1, stale_generation=1)
    assert decide_token(record(generation=2, token="new"), NOW, wait, POLICY) == UseToken("new", 2)


def test_waiting_past_the_bound_gives_up_with_the_last_failure_cause() -> None:
    failure = Failure("timeout", "read timeout", NOW, permanent=False, consecutive=2)
    wait = TokenWait(NOW.timestamp() - 31, stale_generation=1)
    decision = decide_token(record(failure=failure), NOW, wait, POLICY)
    assert isinstance(decision, NoToken)
    assert decision.cause == "timeout"


def test_waiting_past_the_bound_without_a_failure_gives_up_with_wait_timeout() -> None:
    wait = TokenWait(NOW.timestamp() - 31, stale_generation=1)
    decision = decide_token(record(), NOW, wait, POLICY)
    assert isinstance(decision, NoToken)
    assert decision.cause == Cause.WAIT_TIMEOUT


def test_refused_credentials_fail_new_calls_fast_during_the_cooldown() -> None:
    refused = Failure("refused", "user invalid", NOW - timedelta(seconds=10), True, 1)
    decision = decide_token(TokenRecord("default", 0, failure=refused), NOW, None, POLICY)
    assert decision == NoToken("refused", "user invalid")


def test_refused_credentials_are_tried_again_after_the_cooldown() -> None:
    refused = Failure("refused", "user invalid", NOW - timedelta(seconds=301), True, 1)
    decision = decide_token(TokenRecord("default", 0, failure=refused), NOW, None, POLICY)
    assert isinstance(decision, AwaitRefresh)


def test_a_rejection_while_the_database_holds_a_newer_generation_uses_it_at_once() -> None:
    wait = wait_after_rejection(None, 1, NOW)
    assert after_rejection(record(generation=2, token="new"), NOW, wait, POLICY) == UseToken(
        "new", 2
    )


def test_a_rejection_of_the_stored_generation_asks_for_its_refresh() -> None:
    wait = wait_after_rejection(None, 1, NOW)
    decision = after_rejection(record(generation=1), NOW, wait, POLICY)
    assert decision == AwaitRefresh(TokenWait(NOW.timestamp(), 1, 1))


def test_rejections_beyond_the_cycle_limit_give_up() -> None:
    wait = TokenWait(NOW.timestamp(), 3, cycles=3)
    wait = wait_after_rejection(wait, 4, NOW)
    decision = after_rejection(record(generation=4), NOW, wait, POLICY)
    assert isinstance(decision, NoToken)
    assert decision.cause == Cause.REJECTED_AFTER_REFRESH


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [(1, 0.0, 0.25), (1, 1.0, 0.5), (2, 1.0, 1.0), (3, 1.0, 2.0), (10, 1.0, 5.0)],
)
def test_backoff_doubles_with_jitter_up_to_the_maximum(
    attempt: int, rand: float, expected: float
) -> None:
    assert backoff(attempt, 0.5, 5.0, rand) == pytest.approx(expected)


def test_an_outage_on_the_first_call_waits_and_remembers_its_cause() -> None:
    decision = during_outage(None, 3, NOW, Cause.DATABASE_UNAVAILABLE, "refused", POLICY)
    assert decision == AwaitRefresh(TokenWait(NOW.timestamp(), 3, 0, "database_unavailable"))


def test_an_outage_past_the_wait_bound_gives_up_with_its_cause() -> None:
    wait = TokenWait(NOW.timestamp() - 30, stale_generation=1)
    decision = during_outage(wait, 1, NOW, Cause.REDIS_UNAVAILABLE, "Error 111", POLICY)
    assert decision == NoToken(Cause.REDIS_UNAVAILABLE, "Error 111; gave up after 30 s")


def test_an_outage_met_on_the_last_poll_names_the_give_up_even_with_a_login_failure() -> None:
    failure = Failure("unreachable", "connection refused", NOW, permanent=False, consecutive=1)
    wait = TokenWait(NOW.timestamp() - 31, 1, 0, "redis_unavailable")
    decision = decide_token(record(failure=failure), NOW, wait, POLICY)
    assert isinstance(decision, NoToken)
    assert decision.cause == Cause.REDIS_UNAVAILABLE


def test_a_healthy_poll_forgets_the_outage_of_the_last_one() -> None:
    wait = TokenWait(NOW.timestamp() - 1, 1, 0, "database_unavailable")
    assert decide_token(record(generation=1), NOW, wait, POLICY) == AwaitRefresh(
        TokenWait(wait.since, 1, 0, None)
    )


def test_a_wait_state_from_before_outages_were_carried_is_still_read() -> None:
    old = {"since": 1.0, "stale_generation": 2, "cycles": 0}
    assert token_wait_from_kwargs(old) == TokenWait(1.0, 2, 0, None)


TRANSIENT = Failed(LoginFailure(Cause.UNREACHABLE, "connection refused"), retry_in=1.0)


@pytest.mark.parametrize(
    ("outcome", "elapsed", "plan"),
    [
        (Refreshed(2, 0.1), 0.0, Plan()),
        (AlreadyFresh(2), 0.0, Plan()),
        (Busy(), 1.0, Plan(WAIT_STEP, 3)),
        (Busy(), 29.99, Plan()),
        (TRANSIENT, 1.0, Plan(1.0, 4)),
        (TRANSIENT, 29.5, Plan(hold=1.0)),
        (Failed(LoginFailure(Cause.REFUSED, "user invalid"), None), 0.0, Plan()),
    ],
    ids=["refreshed", "fresh", "busy", "busy_too_long", "transient", "transient_late", "refused"],
)
def test_the_refresh_task_retries_within_the_wait_bound_and_cools_down_after(
    outcome: Refreshed | AlreadyFresh | Busy | Failed, elapsed: float, plan: Plan
) -> None:
    assert plan_next(outcome, 3, elapsed, POLICY) == plan


@pytest.mark.parametrize(
    "value",
    [
        "x",
        {"since": 1.0, "stale_generation": 1, "cycles": 0, "cause": "refused"},
        {"since": 1.0},
        {"since": "a", "stale_generation": 1, "cycles": 0},
        {"since": 1.0, "stale_generation": 1, "cycles": 0, "extra": 1},
    ],
)
def test_a_forged_wait_state_is_refused(value: object) -> None:
    with pytest.raises(ValueError):
        token_wait_from_kwargs(value)


def test_a_waiting_task_polls_every_wait_step_at_first_then_less_often() -> None:
    assert poll_step(0.0) == WAIT_STEP == 0.1
    assert poll_step(0.3) == 0.1
    assert poll_step(2.0) == 0.5
    assert poll_step(60.0) == MAX_POLL_STEP
