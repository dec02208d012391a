"""The token as a worker process sees it: a process cache in front of the database.

The steady state reads no database at all. A miss, an expiry, a rejection or a wait for a
refresh first reads the token's state mark in Redis (``Coordinator.state_mark``) and reads the
store only if the mark changed since this process last read it: a storm costs the store about
one read per process per new generation, however many tasks wait. Thread- and greenlet-safe
(one reader at a time per process), so the threads and gevent pools work as well as prefork.

Redis or the database out of reach while a token is needed is a wait like any other (bounded
by ``token.wait_timeout``), then ``NoToken`` with ``redis_unavailable`` or
``database_unavailable``. Each process logs one ERROR line when such an outage begins.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
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
    poll_step,
    usable,
    wait_after_rejection,
)
from worker.tokens.record import TokenRecord
from worker.tokens.store import TokenStore

log = logging.getLogger("worker.token")

# A record this process read is trusted, while its mark holds, for this long at most: a writer
# that died between its write and its mark (or could not reach Redis) delays waiters no longer.
REREAD_AFTER = 2.0
# How a waiting task looks again in its slot before it leaves it (``wait_in_place``): doubling
# steps, 0.63 s in all.
IN_PLACE = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32)
# A failed read stands for the other tasks of this process this long, so that an outage costs
# one attempt (and its timeout) per process per second, not one per waiting task in turn.
FAILED_READ_STANDS = 1.0


@dataclass(frozen=True)
class _Seen:
    mark: str | None  # the state mark read just before the row; None: Redis did not say
    record: TokenRecord
    at: float  # monotonic time of the read


@dataclass(frozen=True)
class _FailedRead:
    mark: str | None
    outage: Unavailable
    at: float


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
        self._reading = threading.Lock()  # one store read at a time; the others reuse it
        self._seen: dict[str, _Seen] = {}
        self._failed: dict[str, _FailedRead] = {}
        self._dead: dict[str, int] = {}  # per profile, the newest generation Paynet rejected
        self.store_reads = 0

    def token(self, profile: str, wait: TokenWait | None) -> Decision:
        decision = self._token(profile, wait)
        if wait is not None and not isinstance(decision, AwaitRefresh):
            self._wait_ended(profile, wait, decision)
        return decision

    def _wait_ended(self, profile: str, wait: TokenWait, decision: Decision) -> None:
        waited = self.clock().timestamp() - wait.since
        outcome = "token" if isinstance(decision, UseToken) else "gave_up"
        log.info("token wait ended: profile=%s waited=%.3fs outcome=%s", profile, waited, outcome)
        metrics.token_wait(profile, waited, outcome)

    def _token(self, profile: str, wait: TokenWait | None) -> Decision:
        if wait is None:
            with self._lock:
                cached = self._cache.get(profile)
            fresh = cached is not None and usable(cached, self.clock(), self.policy.expiry_leeway)
            if fresh and cached is not None and cached.token is not None:
                return UseToken(cached.token, cached.generation)
        try:
            record, now = self._look(profile)
        except Unavailable as outage:
            return self._outage(profile, wait, outage)
        if wait is None and record.generation <= self._dead.get(profile, -1):
            # Paynet rejected this very generation in this process: sending with it again
            # would only be rejected again. Wait for its refresh instead.
            wait = TokenWait(now.timestamp(), record.generation)
        return self._act(record, decide_token(record, now, wait, self.policy))

    def wait_in_place(self, profile: str, wait: TokenWait) -> Decision | None:
        """Wait a moment in the task's slot for the token to change, reading only its mark.

        A refresh runs in the task that asked for it and takes a login's time: a waiting task
        that looks again a few times within ``IN_PLACE`` (0.63 s in all) mostly finds the new
        token without leaving its slot, where a retry through the broker would cost it a round
        trip and a place in line. None: still no token, retry later.
        """
        for step in IN_PLACE:
            time.sleep(step)
            with self._reading:
                seen = self._seen.get(profile)
            try:
                mark = self.coordinator.state_mark(profile)
            except Unavailable:
                return None
            if seen is None or seen.mark != mark:
                decision = self.token(profile, wait)
                if not isinstance(decision, AwaitRefresh):
                    return decision
                wait = decision.wait
        return None

    def next_poll(self, wait: TokenWait) -> float:
        """Seconds until a waiting task looks again."""
        return poll_step(self.clock().timestamp() - wait.since, self.policy)

    def rejected(
        self, profile: str, generation: int, wait: TokenWait | None
    ) -> tuple[Decision, TokenWait]:
        """Forget the rejected token; decide from the database, counting one more cycle."""
        metrics.rejection(profile)
        with self._lock:
            cached = self._cache.get(profile)
            if cached is not None and cached.generation <= generation:
                del self._cache[profile]
            self._dead[profile] = max(generation, self._dead.get(profile, -1))
        now = self.clock()
        wait = wait_after_rejection(wait, generation, now)
        self._note_rejection(profile, generation, now)
        try:
            record, now = self._look(profile)
        except Unavailable as outage:
            return self._outage(profile, wait, outage), wait
        return self._act(record, after_rejection(record, now, wait, self.policy)), wait

    def _note_rejection(self, profile: str, generation: int, now: datetime) -> None:
        """For operators only: Redis out of reach here changes no decision."""
        try:
            self.coordinator.note_rejection(profile, generation, now.isoformat(timespec="seconds"))
        except Unavailable:
            log.debug("last rejection of profile %s not noted: Redis out of reach", profile)

    def _look(self, profile: str) -> tuple[TokenRecord, datetime]:
        """The token row and the database's time: read again only if its mark moved."""
        with self._reading:
            try:
                mark: str | None = self.coordinator.state_mark(profile)
            except Unavailable:
                mark = None  # without Redis, every look reads the store (as before marks)
            now = time.monotonic()
            seen = self._seen.get(profile)
            if seen and mark is not None and seen.mark == mark and now - seen.at < REREAD_AFTER:
                return seen.record, self.clock()
            failed = self._failed.get(profile)
            if failed is not None and failed.mark == mark and now - failed.at < FAILED_READ_STANDS:
                raise failed.outage
            try:
                record = self._load(profile)
            except Unavailable as outage:
                self._failed[profile] = _FailedRead(mark, outage, now)
                raise
            self._failed.pop(profile, None)
            self._seen[profile] = _Seen(mark, record, now)
        return record, record.seen_at or self.clock()  # the database's time, read with the row

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
                requested = self.coordinator.request_refresh(
                    record.profile, decision.wait.stale_generation
                )
            except Unavailable as outage:
                return self._outage(record.profile, decision.wait, outage)
            self._recovered(Cause.REDIS_UNAVAILABLE)
            if requested:  # this task asked, and the worker refreshes as it asks: look again
                return self._after_request(record.profile, decision)
        return decision

    def _after_request(self, profile: str, waiting: AwaitRefresh) -> Decision:
        """The decision once this task's own refresh request returned: the new token if the
        refresh ran and succeeded, its failure if it ended in one, else still waiting."""
        try:
            record, now = self._look(profile)
        except Unavailable:
            return waiting  # the next poll meets the outage, and says so
        after = decide_token(record, now, waiting.wait, self.policy)
        if isinstance(after, UseToken):
            with self._lock:
                current = self._cache.get(profile)
                if current is None or current.generation <= record.generation:
                    self._cache[profile] = record
            self._wait_ended(profile, waiting.wait, after)  # it waited for its own login
            return after
        return waiting

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
