"""The long chaos run (``make chaos``, outside CI): thousands of keyed payments while workers are
SIGKILLed every few seconds, Redis and PostgreSQL each restart once, and one payment in twenty
is held by Paynet past the read timeout. Nothing may execute twice, nothing may be lost.

It needs the embedded servers, so that it can restart them: ``make chaos`` unsets
``REDIS_URL`` and ``DATABASE_URL``. The figures are printed at the end.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable

import pytest
from celery import Celery
from celery.result import AsyncResult
from redis import Redis
from sqlalchemy import Engine

from devservices.stack import Services
from simulator import Simulator
from tests.support.payments import count_states, ledger_states, pay, wait_until_final
from tests.support.workers import WorkerPool

pytestmark = pytest.mark.skipif(
    not os.environ.get("PAYNET_CHAOS"), reason="the long chaos run: run it with make chaos"
)

PAYMENTS = int(os.environ.get("PAYNET_CHAOS_PAYMENTS", "2000"))
KILL_EVERY = 4.0  # seconds
HELD_EVERY = 20  # one payment in this many is held past the read timeout
FINAL = frozenset({"succeeded", "failed", "unknown"})
# A producer that has had no answer for this long resubmits under the same key, as the producer
# guide says to: kombu's Redis transport loses a message whose worker is SIGKILLed between taking
# it off the queue and registering it as unacknowledged, and only the producer still has it.
NO_ANSWER = 90.0


class Chaos:
    """What happens to the run, driven from the test's polling loop."""

    def __init__(
        self,
        pool: WorkerPool,
        simulator: Simulator,
        services: Services,
        producer: Celery,
        results: dict[str, AsyncResult],
    ) -> None:
        self.pool, self.simulator, self.services = pool, simulator, services
        self.producer, self.results, self.keys = producer, results, list(results)
        self.rng = random.Random(11)
        self.seen = {
            "kills": 0,
            "held": 0,
            "redis restarts": 0,
            "postgres restarts": 0,
            "resubmitted": 0,
        }
        self.next_kill = time.monotonic() + KILL_EVERY
        self.next_report = time.monotonic()
        self.progress = (-1, time.monotonic())  # executions, and when they last changed

    def executed(self) -> int:
        executions = self.simulator.stats()["executions"]
        return sum(executions.get(key, 0) for key in self.keys)

    def tick(self) -> None:
        done, total, seen = self.executed(), len(self.keys), self.seen
        if time.monotonic() >= self.next_report:
            print(f"  {done}/{total} executed, {seen}", flush=True)
            self.next_report = time.monotonic() + 15
        if done >= (seen["held"] + 1) * HELD_EVERY and done < total * 0.9:
            self.simulator.inject_fault("resource", "slow", count=1, delay=7.0)  # read: 5 s
            seen["held"] += 1
        if not seen["redis restarts"] and done >= total * 0.3 and self.services.redis:
            self.services.redis.restart()
            seen["redis restarts"] += 1
        if not seen["postgres restarts"] and done >= total * 0.6 and self.services.postgres:
            self.services.postgres.restart()
            seen["postgres restarts"] += 1
        if time.monotonic() >= self.next_kill and done < total * 0.95:
            self.kill_one()
        self.resubmit_if_stalled(done)

    def resubmit_if_stalled(self, done: int) -> None:
        """No execution for NO_ANSWER seconds: resubmit, once each, the payments with no answer."""
        if done != self.progress[0]:
            self.progress = (done, time.monotonic())
            return
        if time.monotonic() - self.progress[1] < NO_ANSWER:
            return
        for key, result in self.results.items():
            if not result.ready():
                self.results[key] = pay(self.producer, key)
                self.seen["resubmitted"] += 1
        self.progress = (done, time.monotonic())

    def kill_one(self) -> None:
        alive = [worker for worker in self.pool.workers if worker.alive()]
        if alive:
            self.rng.choice(alive).kill()
            self.seen["kills"] += 1
        self.pool.add()
        self.next_kill = time.monotonic() + KILL_EVERY


@pytest.mark.timeout(2400)
def test_a_long_chaos_run_executes_nothing_twice_and_loses_nothing(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    real_services: Services,
) -> None:
    if real_services.redis is None or real_services.postgres is None:
        pytest.skip("needs the embedded Redis and PostgreSQL (make chaos unsets their URLs)")
    pool = start_workers(processes=2, concurrency=4, env={"CELERY_VISIBILITY_TIMEOUT": "10"})
    pay(producer, "warm-up").get(timeout=60)
    simulator.configure(call_latency=0.05)
    keys = [f"long-{n}" for n in range(PAYMENTS)]
    started = time.monotonic()
    results = {key: pay(producer, key) for key in keys}
    chaos = Chaos(pool, simulator, real_services, producer, results)

    # The broker keeps its queues across the restart, as a production Redis with persistence.
    redis = Redis.from_url(real_services.redis_url)
    redis.config_set("save", "3600 1")
    redis.close()
    states = wait_until_final(engine, keys, FINAL, timeout=1500, while_waiting=chaos.tick)
    executions = simulator.stats()["executions"]
    twice = {key: n for key, n in executions.items() if key in states and n > 1}
    outcomes = Counter(_outcome(result, simulator, key) for key, result in results.items())
    figures = {
        "payments": PAYMENTS,
        "seconds": round(time.monotonic() - started, 1),
        **chaos.seen,
        "workers started": len(pool.workers),
        "final states": dict(count_states(states)),
        "not final": PAYMENTS - sum(1 for s in states.values() if s in FINAL),
        "executed twice": len(twice),
        "task outcomes": dict(outcomes),
    }
    print(f"\nlong chaos figures (2 cores): {figures}")
    assert not twice, f"executed twice: {twice}"
    # Paynet's status (the traced shape) tells every executed payment: none ends unknown, and
    # each task ends with its own transaction.
    assert outcomes.get("OutcomeUnknown", 0) == 0, f"unknown where Paynet could tell: {figures}"
    assert outcomes.get("not its own transaction", 0) == 0, figures
    assert figures["not final"] == 0, f"not final: {figures}"
    for key, state in ledger_states(engine, keys).items():
        if state == "succeeded":
            assert executions.get(key) == 1, f"{key} succeeded without executing"
    seen = chaos.seen
    assert seen["kills"] >= 10 and seen["redis restarts"] and seen["postgres restarts"]


def _outcome(result: object, simulator: Simulator, key: str) -> str:
    try:
        value = result.get(timeout=120)  # type: ignore[attr-defined]
    except Exception as exc:
        return type(exc).__name__
    if value["transactionId"] not in simulator.transaction_ids(key):
        return "not its own transaction"
    return "result"
