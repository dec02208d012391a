"""The refresh in place, as the gateway ran it before issue 18: a baseline for the benchmarks.

The task whose rejection (or miss) requests a refresh runs the first attempt itself, at once,
through the coordinator's publish (``refresh_in_place``), then looks at the store again
(``InPlaceProvider._after_request``); a task that finds a refresh under way watches the token's
mark in its slot, doubling steps of 0.01 to 0.32 s (``IN_PLACE``, 0.63 s in all), before it
retries with a countdown, on the token queue; every look reads the mark from Redis (there was
no ``MARK_FRESH``). Only what remains of a refresh (a retry after a failed login, with its
back-off) goes to the token queue as a ``paynet.refresh_token`` task. The lock, the generation
check, the budget and the fence are the refresher's own, as they were.

The code is that of ``worker/lifecycle.py``, ``worker/tokens/provider.py`` and
``worker/calls/send.py`` before the dedicated task replaced it (the commit before "One refresh
path, the card's"), over today's refresher and store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from celery import Celery

from worker.calls.refreshes import RefreshRequest
from worker.calls.request import CallRequest
from worker.calls.send import Attempt, Sender
from worker.core.causes import Cause
from worker.core.outages import Unavailable
from worker.core.seal import Seal
from worker.lifecycle import send_refresh
from worker.tokens.coordination import Publish
from worker.tokens.policy import AwaitRefresh, Decision, TokenWait, UseToken, decide_token
from worker.tokens.provider import TokenProvider
from worker.tokens.record import TokenRecord
from worker.tokens.refresher import Refresher

log = logging.getLogger("worker.refresh")

# How a waiting task looked again in its slot before it left it: doubling steps, 0.63 s in all.
IN_PLACE = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32)


def refresh_in_place(app: Celery, seal: Seal, refresher: Callable[[], Refresher]) -> Publish:
    """How a worker refreshed when one of its tasks asked: that task ran the first attempt
    itself; what was left (a retry after a failed login) went to the token queue."""

    def refresh(profile: str, stale_generation: int) -> None:
        try:
            plan = refresher().run(profile, stale_generation)
        except Exception:
            log.exception("token refresh of profile %s failed in place; queued instead", profile)
            send_refresh(app, seal, RefreshRequest(profile, stale_generation))
            return
        if plan.retry_in is not None:
            again = RefreshRequest(profile, stale_generation, plan.attempt, plan.started)
            send_refresh(app, seal, again, countdown=plan.retry_in)

    return refresh


class InPlaceProvider(TokenProvider):
    def wait_in_place(self, profile: str, wait: TokenWait) -> Decision | None:
        """Wait a moment in the task's slot for the token to change, reading only its mark;
        None: still no token, retry later."""
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

    def _mark(self, profile: str) -> str | None:
        """Every look read the mark from Redis."""
        try:
            return self.coordinator.state_mark(profile)
        except Unavailable:
            return None  # without Redis, every look reads the store

    def _act(self, record: TokenRecord, decision: Decision) -> Decision:
        if not isinstance(decision, AwaitRefresh):
            return super()._act(record, decision)
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
        """The new token if the refresh ran and succeeded, its failure if it ended in one,
        else still waiting."""
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


class InPlaceSender(Sender):
    def attempt(self, request: CallRequest, wait: TokenWait | None) -> Attempt:
        return InPlaceAttempt(self, request, wait)


class InPlaceAttempt(Attempt):
    def token(self) -> UseToken:
        """A refresh in progress (not an outage) is waited for in the slot first."""
        provider = self.sender.provider
        if self._decision is None:
            self._decision = provider.token(self.profile, self.wait)
        decision = self._decision
        refreshing = isinstance(decision, AwaitRefresh) and decision.wait.cause is None
        if refreshing and isinstance(provider, InPlaceProvider):  # not an outage
            wait = decision.wait  # type: ignore[union-attr]
            self._decision = provider.wait_in_place(self.profile, wait) or decision
        return super().token()
