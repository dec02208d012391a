"""The token as a worker process sees it: a process cache in front of the database.

The steady state reads no database at all; the store is read on a miss, an expiry, a rejection
or while waiting for a refresh. Thread-safe, so the threads pool works as well as prefork.

Redis or the database out of reach while a token is needed is a wait like any other (bounded
by ``token.wait_timeout``), then ``NoToken`` with ``redis_unavailable`` or
``database_unavailable``. Each process logs one ERROR line when such an outage begins.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from worker.core import metrics
from worker.core.causes import Cause
from worker.core.clock import Clock
from worker.core.outages import Unavailable, translated
from worker.settings import TokenSettings
from worker.tokens.coordination import Coordinator
from worker.tokens.policy import (
    AwaitRefresh,
    Decision,
    TokenWait,
    UseToken,
    after_rejection,
    decide_token,
    during_outage,
    usable,
    wait_after_rejection,
)
from worker.tokens.record import TokenRecord
from worker.tokens.store import TokenStore

log = logging.getLogger("worker.token")


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
        self._outages: set[Cause] = set()
        self.store_reads = 0

    def token(self, profile: str, wait: TokenWait | None) -> Decision:
        decision = self._token(profile, wait)
        if wait is not None and not isinstance(decision, AwaitRefresh):
            waited = self.clock().timestamp() - wait.since
            outcome = "token" if isinstance(decision, UseToken) else "gave_up"
            log.info(
                "token wait ended: profile=%s waited=%.3fs outcome=%s", profile, waited, outcome
            )
            metrics.token_wait(profile, waited, outcome)
        return decision

    def _token(self, profile: str, wait: TokenWait | None) -> Decision:
        if wait is None:
            with self._lock:
                cached = self._cache.get(profile)
            fresh = cached is not None and usable(cached, self.clock(), self.policy.expiry_leeway)
            if fresh and cached is not None and cached.token is not None:
                return UseToken(cached.token, cached.generation)
        try:
            record = self._load(profile)
        except Unavailable as outage:
            return self._outage(profile, wait, outage)
        now = record.seen_at or self.clock()  # the database's time, read with the row
        return self._act(record, decide_token(record, now, wait, self.policy))

    def rejected(
        self, profile: str, generation: int, wait: TokenWait | None
    ) -> tuple[Decision, TokenWait]:
        """Forget the rejected token; decide from the database, counting one more cycle."""
        metrics.rejection(profile)
        with self._lock:
            cached = self._cache.get(profile)
            if cached is not None and cached.generation <= generation:
                del self._cache[profile]
        now = self.clock()
        wait = wait_after_rejection(wait, generation, now)
        self._note_rejection(profile, generation, now)
        try:
            record = self._load(profile)
        except Unavailable as outage:
            return self._outage(profile, wait, outage), wait
        now = record.seen_at or now
        return self._act(record, after_rejection(record, now, wait, self.policy)), wait

    def _note_rejection(self, profile: str, generation: int, now: datetime) -> None:
        """For operators only: Redis out of reach here changes no decision."""
        try:
            self.coordinator.note_rejection(profile, generation, now.isoformat(timespec="seconds"))
        except Unavailable:
            log.debug("last rejection of profile %s not noted: Redis out of reach", profile)

    def _load(self, profile: str) -> TokenRecord:
        with translated():
            record = self.store.load(profile)
        self.store_reads += 1
        self._recovered(Cause.DATABASE_UNAVAILABLE)
        return record

    def _act(self, record: TokenRecord, decision: Decision) -> Decision:
        if isinstance(decision, UseToken):
            with self._lock:
                current = self._cache.get(record.profile)
                if current is None or current.generation <= record.generation:
                    self._cache[record.profile] = record
        elif isinstance(decision, AwaitRefresh):
            try:
                self.coordinator.request_refresh(record.profile, decision.wait.stale_generation)
            except Unavailable as outage:
                return self._outage(record.profile, decision.wait, outage)
            self._recovered(Cause.REDIS_UNAVAILABLE)
        return decision

    def _outage(self, profile: str, wait: TokenWait | None, outage: Unavailable) -> Decision:
        with self._lock:
            began = outage.cause not in self._outages
            self._outages.add(outage.cause)
            cached = self._cache.get(profile)
        if began:
            log.error(
                "token unavailable for now: profile=%s cause=%s: %s; tasks wait up to %g s",
                profile,
                outage.cause,
                outage.detail,
                self.policy.wait_timeout,
            )
        stale = wait.stale_generation if wait else (cached.generation if cached else 0)
        return during_outage(wait, stale, self.clock(), outage.cause, outage.detail, self.policy)

    def _recovered(self, cause: Cause) -> None:
        with self._lock:
            if cause not in self._outages:
                return
            self._outages.discard(cause)
        log.info("%s is over: the token path reaches it again", cause)
