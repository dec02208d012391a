"""The token as a worker process sees it: a process cache in front of the database.

The steady state reads no database at all. A miss, an expiry, a rejection or a wait for a
refresh first reads the token's state mark in Redis (``Coordinator.state_mark``) and reads the
store only if the mark changed since this process last read it: a storm costs the store about
one read per process per new generation, however many tasks wait. The mark itself is read by one
caller at a time per process and shared for ``MARK_FRESH``, so a hundred greenlets waiting in one
process cost Redis what one does. Thread- and greenlet-safe, so the threads and gevent pools work
as well as prefork.

A decision to wait requests the refresh (``Coordinator.request_refresh`` publishes the
``paynet.refresh_token`` task, once per stale generation across the fleet) and returns: the
task waits by retrying with a countdown, and never logs in itself.

Redis or the database out of reach while a token is needed is a wait like any other (bounded
by ``token.wait_timeout``), then ``NoToken`` with ``redis_unavailable`` or
``database_unavailable``. Each process logs one ERROR line when such an outage begins.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from worker.core import metrics
from worker.core.causes import Cause
from worker.core.clock import Clock
from worker.core.outages import Unavailable, translated
from worker.settings import TokenTiming
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
# A mark read from Redis stands for every task of this process this long: waiting costs Redis
# one read per process per interval, not one per waiting task.
MARK_FRESH = 0.05
# A refresh request made (or found made) for a generation stands for every task of this process
# this long: a refresh lost with its worker is still requested again within it, and a storm costs
# Redis one request per process per interval, not one per waiting task.
REQUEST_STANDS = 1.0
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
        self,
        store: TokenStore,
        coordinator: Coordinator,
        policy: TokenTiming,
        clock: Clock,
        policies: Mapping[str, TokenTiming] | None = None,
    ) -> None:
        self.store = store
        self.coordinator = coordinator
        self.policy = policy  # Paynet's profiles'; an integration's own is in ``policies``
        self.policies = dict(policies or {})
        self.clock = clock
        self._cache: dict[str, TokenRecord] = {}
        self._lock = threading.Lock()
        self._outages: set[Cause] = set()
        self._reading = threading.Lock()  # one store read at a time; the others reuse it
        self._seen: dict[str, _Seen] = {}
        self._failed: dict[str, _FailedRead] = {}
        self._dead: dict[str, int] = {}  # per profile, the newest generation Paynet rejected
        self._marks: dict[str, tuple[str, float]] = {}  # per profile, the mark and when read
        self._requested: dict[tuple[str, int], float] = {}  # (profile, generation): when asked
        self.store_reads = 0

    def policy_of(self, profile: str) -> TokenTiming:
        return self.policies.get(profile, self.policy)

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
            fresh = cached is not None and usable(cached, self.clock())
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
        return self._act(record, decide_token(record, now, wait, self.policy_of(profile)))

    def next_poll(self, wait: TokenWait) -> float:
        """Seconds until a waiting task looks again."""
        return poll_step(self.clock().timestamp() - wait.since)

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
        return self._act(record, after_rejection(record, now, wait, self.policy_of(profile))), wait

    def _note_rejection(self, profile: str, generation: int, now: datetime) -> None:
        """For operators only: Redis out of reach here changes no decision."""
        try:
            self.coordinator.note_rejection(profile, generation, now.isoformat(timespec="seconds"))
        except Unavailable:
            log.debug("last rejection of profile %s not noted: Redis out of reach", profile)

    def _look(self, profile: str) -> tuple[TokenRecord, datetime]:
        """The token row and the database's time: read again only if its mark moved."""
        with self._reading:
            mark = self._mark(profile)
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

    def _mark(self, profile: str) -> str | None:
        """The profile's state mark, read again once ``MARK_FRESH`` has passed (under
        ``_reading``); None when Redis does not answer: every look then reads the store."""
        now = time.monotonic()
        known = self._marks.get(profile)
        if known is not None and now - known[1] < MARK_FRESH:
            return known[0]
        try:
            mark = self.coordinator.state_mark(profile)
        except Unavailable:
            self._marks.pop(profile, None)
            return None
        self._marks[profile] = (mark, now)
        return mark

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
                self._request_refresh(record.profile, decision.wait.stale_generation)
            except Unavailable as outage:
                return self._outage(record.profile, decision.wait, outage)
        return decision

    def _request_refresh(self, profile: str, stale_generation: int) -> None:
        """Ask for the refresh of ``stale_generation`` unless this process asked within
        ``REQUEST_STANDS``; Redis decides whether a task is published (once across the fleet)."""
        key, now = (profile, stale_generation), time.monotonic()
        with self._lock:
            asked = self._requested.get(key)
            if asked is not None and now - asked < REQUEST_STANDS:
                return
            self._requested = {k: t for k, t in self._requested.items() if now - t < REQUEST_STANDS}
            self._requested[key] = now
        try:
            self.coordinator.request_refresh(profile, stale_generation)
        except Unavailable:
            with self._lock:
                self._requested.pop(key, None)
            raise
        self._recovered(Cause.REDIS_UNAVAILABLE)

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
                self.policy_of(profile).wait_timeout,
            )
        stale = wait.stale_generation if wait else (cached.generation if cached else 0)
        return during_outage(
            wait, stale, self.clock(), outage.cause, outage.detail, self.policy_of(profile)
        )

    def _recovered(self, cause: Cause) -> None:
        with self._lock:
            if cause not in self._outages:
                return
            self._outages.discard(cause)
        log.info("%s is over: the token path reaches it again", cause)
