"""The refresher in-process on the real database, Redis and simulator: races and the budget.

Two refreshers here stand for two hosts; they share nothing but PostgreSQL, Redis and Paynet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from redis import Redis

from simulator import Simulator
from tests.support.waiting import wait_for
from worker.config import load_settings
from worker.runtime import Runtime, build_runtime
from worker.settings import LoginBudget, TokenSettings
from worker.tokens.coordination import Coordinator
from worker.tokens.refresher import Refreshed, RefreshOutcome


@pytest.fixture
def hosts(gateway_env: dict[str, str]) -> Iterator[tuple[Runtime, Runtime]]:
    settings = load_settings(env=gateway_env)
    first = build_runtime(settings, lambda profile, generation: None)
    second = build_runtime(settings, lambda profile, generation: None)
    yield first, second
    first.close()
    second.close()


def test_a_login_answered_after_its_lock_was_lost_keeps_the_token_paynet_issued_last(
    hosts: tuple[Runtime, Runtime], simulator: Simulator, redis_client: Redis
) -> None:
    late, prompt = hosts
    # A new login invalidates older tokens. The first login is held at Paynet a second before
    # Paynet issues its token: it starts first and is issued last.
    simulator.configure(invalidate_on_login=True)
    simulator.inject_fault("login", "slow", count=1, delay=1.0)
    outcome: list[RefreshOutcome] = []
    thread = threading.Thread(target=lambda: outcome.append(late.refresher.refresh("default", 0)))
    thread.start()
    wait_for(lambda: simulator.stats()["logins_attempted"] == 1)
    # The lock is lost while the login is in flight (its TTL ran out during a pause of the
    # process, or a Redis failover dropped it): another host takes it and logs in.
    assert redis_client.delete("paynet:refresh-lock:default") == 1
    won = prompt.refresher.refresh("default", 0)
    thread.join(timeout=30)

    assert isinstance(won, Refreshed) and won.generation == 1
    (last,) = outcome
    assert isinstance(last, Refreshed) and last.generation == 2  # numbered as it was answered
    prompt_token, late_token = simulator.issued_tokens()
    record = late.store.load("default")
    assert (record.generation, record.token) == (2, late_token)  # the one Paynet still honours
    assert simulator.state.authorize(late_token) and not simulator.state.authorize(prompt_token)


def test_the_login_budget_admits_at_most_its_logins_in_any_window(
    redis_client: Redis, clean: None
) -> None:
    policy = TokenSettings(login_budget=LoginBudget(max_logins=3, window=2))
    coordinator = Coordinator(redis_client, policy, lambda profile, generation: None)
    assert [coordinator.take_login_slot("default") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = coordinator.take_login_slot("default")
    assert 0 < wait <= 2
    assert coordinator.take_login_slot("other") == 0.0  # per profile
    time.sleep(wait + 0.05)
    assert coordinator.take_login_slot("default") == 0.0  # the oldest left the window


def test_every_host_takes_its_logins_from_one_budget(redis_client: Redis, clean: None) -> None:
    # The script stamps each login with Redis's TIME: no host's clock enters it at all.
    policy = TokenSettings(login_budget=LoginBudget(max_logins=10, window=60))
    hosts = [Coordinator(redis_client, policy, lambda *_: None) for _ in range(3)]
    granted = sum(host.take_login_slot("default") == 0 for host in hosts for _ in range(10))
    assert granted == 10


def test_a_held_refresh_lock_outlives_its_ttl_while_its_heartbeat_runs(
    redis_client: Redis, clean: None
) -> None:
    # The heartbeat renews from its own thread the lock the task's thread took: a thread-local
    # lock token would leave the heartbeat dead and the lock lapsing under a live refresher.
    policy = TokenSettings(refresh_liveness=0.6)
    coordinator = Coordinator(redis_client, policy, lambda *_: None)
    held = coordinator.acquire("default", 0)
    assert held is not None
    with held:
        time.sleep(1.5)  # well past the 0.6 s TTL: renewed twice a TTL
        assert held.owned()
        assert not held.lost
        assert coordinator.acquire("default", 0) is None  # still held against a second host
    assert coordinator.release(held)
    assert coordinator.acquire("default", 0) is not None
