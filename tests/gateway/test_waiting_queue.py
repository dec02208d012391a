"""A call waiting for a token comes back on the wait queue, not behind the payment backlog, and
the refresh it waits for runs on a pool of its own when the operator gives it one."""

from __future__ import annotations

import time
from collections.abc import Callable

from celery import Celery

from simulator import Simulator
from tests.conftest import call
from tests.support.workers import WorkerPool


def test_a_waiting_call_finishes_while_the_payment_queue_is_blocked(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    # One slot serves the payment queue; another worker serves the waits, a third (the token
    # pool) nothing but the refresh task.
    start_workers(processes=1, concurrency=1, queues="paynet")
    start_workers(processes=1, concurrency=2, queues="paynet.wait")
    token_pool = start_workers(processes=1, concurrency=1, queues="paynet.token")
    call(producer).get(timeout=30)
    simulator.revoke()

    waiting = call(producer, params={"who": "waiting"})
    deadline = time.monotonic() + 30
    while simulator.stats()["rejections"] < 1:
        assert time.monotonic() < deadline, "the call was never rejected"
        time.sleep(0.02)
    simulator.inject_fault("resource", "slow", count=1, delay=4)  # under the read timeout
    blocker = call(producer, params={"who": "blocker"})  # holds the only payment slot

    assert waiting.get(timeout=30) == {"who": "waiting"}
    assert not blocker.ready(), "the waiting call finished only after the payment queue moved"
    assert blocker.get(timeout=30) == {"who": "blocker"}
    stats = simulator.stats()
    assert stats["logins_succeeded"] == 2
    # first, rejected, repeated, blocker; the blocker too meets the revoked token when it starts
    # before the refresh is stored, and is then repeated once
    assert stats["calls_by_method"]["echo"] in (4, 5)
    assert "paynet.call[" not in token_pool.logs()  # the token pool ran refreshes only
