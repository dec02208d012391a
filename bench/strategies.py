"""Baselines the gateway is measured against; they exist only in the benchmarks.

- ``single_flight``: the gateway as shipped: the dedicated ``paynet.refresh_token`` task, and
  waiting tasks that retry with a countdown on the wait queue.
- ``refresh_in_place``: the gateway before issue 18 (``bench/in_place.py``): the task that asks
  for a refresh logs in itself, the others watch the token's mark in their slot for 0.63 s
  before they retry, on the token queue.
- ``lock_only``: every rejected task requests its own refresh (no deduplication), and the
  refresher logs in under the lock without checking whether a newer generation is stored.
- ``naive``: every task that finds no usable token, or is rejected, logs in by itself.
"""

from __future__ import annotations

import dataclasses

from celery import Celery

from bench.in_place import InPlaceProvider, InPlaceSender, refresh_in_place
from worker.calls.gateway import Gateway
from worker.calls.keyed import KeyedCalls
from worker.paynet.client import PaynetClient
from worker.paynet.failures import LoginFailure
from worker.queues import TOKEN_QUEUE, WAIT_QUEUE
from worker.runtime import Runtime, gateway_for, get_runtime
from worker.tokens.coordination import Coordinator
from worker.tokens.liveness import HeldLock
from worker.tokens.policy import (
    MAX_REFRESH_CYCLES,
    AwaitRefresh,
    Decision,
    NoToken,
    TokenWait,
    UseToken,
    decide_token,
    usable,
    wait_after_rejection,
)
from worker.tokens.provider import TokenProvider
from worker.tokens.refresher import Refresher, RefreshOutcome

STRATEGIES = ("single_flight", "refresh_in_place", "lock_only", "naive")
MODELS = ("single_flight", "refresh_in_place")  # the gateway's two designs, side by side
BASELINES = ("lock_only", "naive")  # what no design would ship: the cost of not coordinating


class UndedupedCoordinator(Coordinator):
    def request_refresh(self, profile: str, stale_generation: int) -> bool:
        self.publish(profile, stale_generation)
        return True


class UncheckedRefresher(Refresher):
    def _refresh_locked(
        self, profile: str, stale_generation: int, attempt: int, force: bool, held: HeldLock
    ) -> RefreshOutcome:
        return super()._refresh_locked(profile, stale_generation, attempt, True, held)


class LockOnlyProvider(TokenProvider):
    """Requests a refresh once per rejection (and once per first miss), not on every poll."""

    def token(self, profile: str, wait: TokenWait | None) -> Decision:
        if wait is not None:
            record = self._load(profile)
            decision = decide_token(record, self.clock(), wait, self.policy)
            if isinstance(decision, UseToken):
                return self._act(record, decision)
            return decision
        return super().token(profile, wait)


class NaiveProvider(TokenProvider):
    def __init__(self, base: TokenProvider, clients: dict[str, PaynetClient], ttl: float | None):
        super().__init__(base.store, base.coordinator, base.policy, base.clock)
        self.clients = clients
        self.ttl = ttl

    def token(self, profile: str, wait: TokenWait | None) -> Decision:
        with self._lock:
            cached = self._cache.get(profile)
        now = self.clock()
        usable_cached = cached is not None and usable(cached, now)
        if cached is not None and cached.token is not None and usable_cached:
            return UseToken(cached.token, cached.generation)
        record = self._load(profile)
        if usable(record, now) and record.token is not None:
            with self._lock:
                self._cache[profile] = record
            return UseToken(record.token, record.generation)
        return self._login(profile)

    def rejected(
        self, profile: str, generation: int, wait: TokenWait | None
    ) -> tuple[Decision, TokenWait]:
        wait = wait_after_rejection(wait, generation, self.clock())
        if wait.cycles > MAX_REFRESH_CYCLES:
            return NoToken("rejected_after_refresh", "naive strategy gave up"), wait
        return self._login(profile), wait

    def _login(self, profile: str) -> Decision:
        try:
            token = self.clients[profile].login().token
        except LoginFailure as failure:
            return NoToken(failure.cause, failure.detail)
        generation = self.store.load(profile).generation
        saved = self.store.save_token(profile, token, self.store.take_fence(profile), self.ttl)
        new = saved if saved is not None else generation + 1
        with self._lock:
            self._cache[profile] = dataclasses.replace(
                self.store.load(profile), token=token, generation=new
            )
        return UseToken(token, new)


def _with_provider(runtime: Runtime, provider: TokenProvider) -> Runtime:
    """Every path of paynet.call (keyed ones through the ledger too) uses ``provider``."""
    keyed = runtime.gateway.keyed
    gateway = gateway_for(runtime.settings, provider, runtime.clients, keyed.store)
    return dataclasses.replace(runtime, provider=provider, gateway=gateway)


def _in_place(runtime: Runtime, app: Celery) -> Runtime:
    settings = runtime.settings
    # The refresher of the runtime as configured (this one, once installed), as before.
    publish = refresh_in_place(app, runtime.seal, lambda: get_runtime().refresher)
    coordinator = Coordinator(runtime.redis, settings.token, publish)
    provider = InPlaceProvider(runtime.store, coordinator, settings.token, runtime.store.clock.now)
    sender = InPlaceSender(provider, runtime.clients, settings.token)
    gateway = Gateway(sender, KeyedCalls(settings, sender, runtime.gateway.keyed.store))
    return dataclasses.replace(runtime, coordinator=coordinator, provider=provider, gateway=gateway)


def retry_queue(strategy: str) -> str:
    """Where a waiting ``paynet.call`` retries: the token queue before issue 18."""
    return TOKEN_QUEUE if strategy == "refresh_in_place" else WAIT_QUEUE


def install(strategy: str, runtime: Runtime, app: Celery) -> Runtime:
    """``runtime`` (the gateway's) with ``strategy``'s token path; ``app`` publishes refreshes."""
    if strategy == "single_flight":
        return runtime
    if strategy == "refresh_in_place":
        return _in_place(runtime, app)
    settings = runtime.settings
    if strategy == "naive":
        provider: TokenProvider = NaiveProvider(
            runtime.provider, runtime.clients, settings.token.ttl
        )
        return _with_provider(runtime, provider)
    if strategy == "lock_only":
        coordinator = UndedupedCoordinator(
            runtime.redis, settings.token, runtime.coordinator.publish
        )
        provider = LockOnlyProvider(
            runtime.store, coordinator, settings.token, runtime.store.clock.now
        )
        refresher = UncheckedRefresher(
            settings, runtime.store, coordinator, runtime.clients, runtime.store.clock.now
        )
        return _with_provider(
            dataclasses.replace(runtime, coordinator=coordinator, refresher=refresher), provider
        )
    raise ValueError(f"unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")


__all__ = ["STRATEGIES", "AwaitRefresh", "install"]
