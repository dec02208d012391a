"""``paynet_queue_depth`` counts the payments a token storm holds back, not only the list."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery
from celery.result import ResultSet
from redis import Redis

from devservices.ports import free_port
from simulator import Simulator
from tests.conftest import call
from tests.gateway.test_metrics import scrape, total
from tests.support.waiting import wait_for
from tests.support.workers import WorkerPool
from worker import queue_depth
from worker.queues import CALL_QUEUE, TOKEN_QUEUE, WAIT_QUEUE

TASKS = 8
QUEUES = (CALL_QUEUE, WAIT_QUEUE, TOKEN_QUEUE)
SLOW_LOGIN = {"PAYNET_LOGIN_TIMEOUT": "15", "PAYNET_TOKEN_WAIT_TIMEOUT": "30"}


def test_the_queue_depth_counts_the_retries_waiting_for_a_token_during_a_storm(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    redis_client: Redis,
) -> None:
    port = free_port()
    start_workers(processes=1, concurrency=2, env={**SLOW_LOGIN, "METRICS_PORT": str(port)})
    simulator.configure(login_latency=6.0)  # every payment waits for the one login
    results = ResultSet([call(producer, params={"i": i}) for i in range(TASKS)])
    wait_for(lambda: simulator.stats()["logins_attempted"] == 1)

    def counted_beyond_the_lists() -> bool:
        listed, held = queue_depth.parts(redis_client, QUEUES)
        payments = (CALL_QUEUE, WAIT_QUEUE)
        in_lists = sum(listed[q] for q in payments)
        return in_lists < TASKS and in_lists + sum(held[q] for q in payments) == TASKS

    # Fetched and held for their countdown, the waiting retries sit in the unacked hash.
    wait_for(counted_beyond_the_lists, timeout=5.0)
    samples = scrape([port])
    waiting = total(samples, "paynet_queue_depth", queue=CALL_QUEUE) + total(
        samples, "paynet_queue_depth", queue=WAIT_QUEUE
    )
    # Every waiting payment is counted; a retry being published at that instant is counted in
    # the list and, until its first run is acknowledged, in the hash too (an overcount of a
    # moment, never a payment missed).
    assert TASKS <= waiting <= TASKS + 2
    assert results.join(timeout=30) == [{"i": i} for i in range(TASKS)]
    assert simulator.stats()["logins_succeeded"] == 1


def test_the_unacked_entries_are_counted_by_routing_key_under_the_brokers_key_prefix(
    redis_client: Redis, clean: None
) -> None:
    options = {"global_keyprefix": "gw:", "priority_steps": [0, 3, 6, 9]}
    redis_client.rpush("gw:paynet", "m1", "m2")
    redis_client.rpush("gw:paynet\x06\x163", "m3")
    for tag, key in enumerate(["paynet.wait", "paynet.wait", "paynet", "elsewhere"]):
        redis_client.hset("gw:unacked", str(tag), f'[{{"body": "x"}}, "{key}", "{key}"]')
    assert queue_depth.depths(redis_client, QUEUES, options) == {
        CALL_QUEUE: 4,
        WAIT_QUEUE: 2,
        TOKEN_QUEUE: 0,
    }
