"""The token as a worker process sees it: a process cache in front of the database.

The steady state reads no database at all; the store is read on a miss, an expiry, a rejection
or while waiting for a refresh. Thread-safe, so the threads pool works as well as prefork.
"""

from __future__ import annotations

import threading

from worker.coordination import Coordinator
from worker.settings import TokenSettings
from worker.token_flow import (
    AwaitRefresh,
    Decision,
    UseToken,
    WaitState,
    after_rejection,
    decide,
    usable,
    wait_after_rejection,
)
from worker.token_store import Clock, TokenRecord, TokenStore


class TokenProvider:
    def __init__(
        self, store: TokenStore, coordinator: Coordinator, policy: TokenSettings, clock: Clock
    ) -> None:
        self.store = store
        self.coordinator = coordinator
        self.policy = policy
        self.clock = clock
        self._cache: dict[str, TokenRecord] = {}
        self._lock = threading.Lock()
        self.store_reads = 0

    def token(self, profile: str, wait: WaitState | None) -> Decision:
        if wait is None:
            with self._lock:
                cached = self._cache.get(profile)
            if cached is not None and usable(cached, self.clock(), self.policy.expiry_leeway):
                assert cached.token is not None
                return UseToken(cached.token, cached.generation)
        record = self._load(profile)
        return self._act(record, decide(record, self.clock(), wait, self.policy))

    def rejected(
        self, profile: str, generation: int, wait: WaitState | None
    ) -> tuple[Decision, WaitState]:
        """Forget the rejected token; decide from the database, counting one more cycle."""
        with self._lock:
            cached = self._cache.get(profile)
            if cached is not None and cached.generation <= generation:
                del self._cache[profile]
        record = self._load(profile)
        now = self.clock()
        wait = wait_after_rejection(wait, generation, now)
        return self._act(record, after_rejection(record, now, wait, self.policy)), wait

    def _load(self, profile: str) -> TokenRecord:
        record = self.store.load(profile)
        self.store_reads += 1
        return record

    def _act(self, record: TokenRecord, decision: Decision) -> Decision:
        if isinstance(decision, UseToken):
            with self._lock:
                current = self._cache.get(record.profile)
                if current is None or current.generation <= record.generation:
                    self._cache[record.profile] = record
        elif isinstance(decision, AwaitRefresh):
            self.coordinator.request_refresh(record.profile, decision.wait.stale_generation)
        return decision
