"""The wait state a task carries across retries: forged state is refused, old state is served.

Plain values: a seal over a key of the test's own, the database's time as a number.
"""

from __future__ import annotations

from typing import Any

import pytest

from worker.calls.waits import LATE_SLACK, SEAL_KWARG, open_state, seal_state
from worker.core.seal import Seal
from worker.settings import TokenSettings

SEAL = Seal([b"a test key of the gateway's own"])
POLICY = TokenSettings(wait_timeout=30.0)
CALL = {"method": "performTransaction", "params": {"id": "order-1"}}
NOW = 1_800_000_000.0


def private(since: float, task_id: str = "task-1", seal: Seal = SEAL) -> dict[str, Any]:
    state = {"_wait": {"since": since, "stale_generation": 4, "cycles": 1}}
    return {**state, SEAL_KWARG: seal_state(seal, task_id, CALL, state)}


def test_a_wait_within_its_bound_goes_on_from_where_it_began() -> None:
    wait, ledger = open_state(SEAL, "task-1", CALL, private(NOW - 12), POLICY, NOW)

    assert wait is not None and ledger is None
    assert (wait.since, wait.stale_generation, wait.cycles) == (NOW - 12, 4, 1)


@pytest.mark.parametrize("late", [POLICY.wait_timeout + LATE_SLACK + 1, 302.0, 3600.0])
def test_a_wait_back_late_by_redelivery_starts_again_instead_of_being_refused(late: float) -> None:
    """A retry held by a host that died comes back after the broker's visibility timeout: its
    time in the dead host's memory is not time spent waiting for a token."""
    wait, _ = open_state(SEAL, "task-1", CALL, private(NOW - late), POLICY, NOW)

    assert wait is not None
    assert wait.since == NOW  # the bound counts from now
    assert (wait.stale_generation, wait.cycles) == (4, 1)  # what it waited for is kept


def test_a_wait_that_ran_out_on_time_is_left_to_give_up() -> None:
    wait, _ = open_state(SEAL, "task-1", CALL, private(NOW - POLICY.wait_timeout - 1), POLICY, NOW)

    assert wait is not None and wait.since == NOW - POLICY.wait_timeout - 1


@pytest.mark.parametrize(
    ("state", "named"),
    [
        (private(NOW - 5, seal=Seal([b"someone else's key"])), "bad seal"),
        (private(NOW - 5, task_id="another-task"), "bad seal"),
        (private(NOW + 3600), "out of range"),
    ],
    ids=["foreign key", "another task's state", "begun in the future"],
)
def test_state_that_cannot_be_the_gateways_own_is_refused(
    state: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        open_state(SEAL, "task-1", CALL, state, POLICY, NOW)
