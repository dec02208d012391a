"""Waiting for a token costs the store one read per process per change of the token row.

One runtime stands for one worker process with many slots (threads here); it shares
PostgreSQL, Redis and the simulator with the refresher, as a worker does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devservices.redis_claim import flush_owned
from simulator import Simulator
from tests.conftest import REDIS_OWNER
from worker.config import load_settings
from worker.runtime import Runtime, build_runtime
from worker.tokens.policy import AwaitRefresh, TokenWait, UseToken
from worker.tokens.provider import MARK_FRESH
from worker.tokens.refresher import Refreshed

SLOTS = 16


@pytest.fixture
def process(gateway_env: dict[str, str]) -> Iterator[Runtime]:
    runtime = build_runtime(load_settings(env=gateway_env), lambda profile, generation: None)
    yield runtime
    runtime.close()


def test_a_storm_of_rejections_reads_the_store_once_per_new_generation(
    process: Runtime, simulator: Simulator
) -> None:
    provider = process.provider
    assert isinstance(process.refresher.refresh("default", 0), Refreshed)  # generation 1
    with ThreadPoolExecutor(SLOTS) as pool:
        first = list(pool.map(lambda _: provider.token("default", None), range(SLOTS)))
        assert {d.generation for d in first if isinstance(d, UseToken)} == {1}
        reads = provider.store_reads

        # Paynet rejects generation 1 in every slot at once: nothing new in the store.
        after = list(pool.map(lambda _: provider.rejected("default", 1, None), range(SLOTS)))
        assert all(isinstance(decision, AwaitRefresh) for decision, _ in after)
        assert provider.store_reads == reads

        # Polls while the refresh has not finished read nothing either.
        wait = after[0][1]
        polls = list(pool.map(lambda _: provider.token("default", wait), range(SLOTS * 3)))
        assert all(isinstance(decision, AwaitRefresh) for decision in polls)
        assert provider.store_reads == reads

        assert isinstance(process.refresher.refresh("default", 1), Refreshed)  # generation 2
        time.sleep(MARK_FRESH)  # the process's shared read of the mark ages out
        woken = list(pool.map(lambda _: provider.token("default", wait), range(SLOTS)))
    assert {d.generation for d in woken if isinstance(d, UseToken)} == {2}
    assert all(isinstance(decision, UseToken) for decision in woken)
    assert provider.store_reads == reads + 1
    assert simulator.stats()["logins_succeeded"] == 2


def test_a_wait_reads_the_store_again_when_redis_lost_the_mark(process: Runtime) -> None:
    provider = process.provider
    process.refresher.refresh("default", 0)
    wait = TokenWait(provider.clock().timestamp(), 0)
    assert isinstance(provider.token("default", wait), UseToken)
    assert isinstance(provider.token("default", wait), UseToken)
    reads = provider.store_reads
    flush_owned(
        process.redis, REDIS_OWNER
    )  # a Redis restart: the mark is gone, the DB is the truth
    time.sleep(MARK_FRESH)  # the process's shared read of the mark has aged out
    assert isinstance(provider.token("default", wait), UseToken)
    assert provider.store_reads == reads + 1
