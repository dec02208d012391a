"""The single-flight refresh: under the profile's lock, check the generation again, then log in.

Run by the ``paynet.refresh_token`` task. It returns what happened and leaves the waiting (the
task's countdown retry) to its caller.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import LockError

from worker.causes import Cause, LoginFailure
from worker.client import PaynetClient
from worker.coordination import Coordinator
from worker.settings import Settings
from worker.token_flow import backoff, refused_recently, usable
from worker.token_store import Clock, TokenStore

log = logging.getLogger("worker.refresh")


@dataclass(frozen=True)
class Refreshed:
    generation: int
    duration: float


@dataclass(frozen=True)
class AlreadyFresh:
    generation: int


@dataclass(frozen=True)
class Busy:
    """Another refresher holds the lock; look again shortly."""


@dataclass(frozen=True)
class Failed:
    failure: LoginFailure
    retry_in: float | None  # None: permanent, do not retry


Outcome = Refreshed | AlreadyFresh | Busy | Failed


class Refresher:
    def __init__(
        self,
        settings: Settings,
        store: TokenStore,
        coordinator: Coordinator,
        clients: dict[str, PaynetClient],
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.policy = settings.token
        self.store = store
        self.coordinator = coordinator
        self.clients = clients
        self.clock = clock

    def refresh(
        self, profile: str, stale_generation: int, attempt: int = 1, force: bool = False
    ) -> Outcome:
        lock = self.coordinator.lock(profile)
        if not lock.acquire(blocking=False):
            return Busy()
        try:
            return self._refresh_locked(profile, stale_generation, attempt, force)
        finally:
            try:
                lock.release()
            except LockError:
                log.warning(
                    "refresh lock of profile %s expired before the refresh ended "
                    "(lock_ttl %gs); the generation check kept the store consistent",
                    profile,
                    self.policy.lock_ttl,
                )

    def _refresh_locked(
        self, profile: str, stale_generation: int, attempt: int, force: bool
    ) -> Outcome:
        now = self.clock()
        record = self.store.load(profile)
        if usable(record, now, self.policy.expiry_leeway) and (
            record.generation > stale_generation and not force
        ):
            return AlreadyFresh(record.generation)
        if not force and refused_recently(record, now, self.policy.refused_cooldown):
            assert record.failure is not None
            return Failed(LoginFailure(Cause(record.failure.cause), record.failure.detail), None)
        wait = self.coordinator.take_login_slot(profile)
        if wait > 0:
            return self._budget_exhausted(profile, wait)
        return self._login(profile, record.generation, attempt, now)

    def _budget_exhausted(self, profile: str, wait: float) -> Failed:
        budget = self.policy.login_budget
        detail = (
            f"login budget of {budget.max_logins} per {budget.window:g} s used up; "
            f"next login in {wait:.1f} s"
        )
        failure = LoginFailure(Cause.LOGIN_BUDGET, detail)
        log.error("token refresh failed: profile=%s cause=%s %s", profile, failure.cause, detail)
        self.store.record_failure(profile, failure.cause, detail, permanent=False)
        return Failed(failure, wait)

    def _login(self, profile: str, expected: int, attempt: int, now: datetime) -> Outcome:
        client = self.clients[profile]
        url = client.profile.url(client.profile.login_path)
        log.info(
            "token refresh started: profile=%s generation=%d attempt=%d", profile, expected, attempt
        )
        started = time.monotonic()
        try:
            success = client.login()
        except LoginFailure as failure:
            duration = time.monotonic() - started
            log.error(
                "token refresh failed: profile=%s cause=%s url=%s duration=%.3fs attempt=%d: %s",
                profile,
                failure.cause,
                url,
                duration,
                attempt,
                failure.detail,
            )
            self.store.record_failure(profile, failure.cause, failure.detail, failure.permanent)
            if failure.permanent:
                return Failed(failure, None)
            delay = backoff(
                attempt, self.policy.refresh_backoff_initial, self.policy.refresh_backoff_max
            )
            return Failed(failure, delay)
        duration = time.monotonic() - started
        generation = self.store.save_token(profile, success.token, expected, self.policy.ttl)
        if generation is None:
            current = self.store.load(profile).generation
            log.warning(
                "token refresh of profile %s lost a race: generation %d is already stored; "
                "the login's token was discarded",
                profile,
                current,
            )
            return AlreadyFresh(current)
        log.info(
            "token refreshed: profile=%s generation=%d duration=%.3fs",
            profile,
            generation,
            duration,
        )
        return Refreshed(generation, duration)
