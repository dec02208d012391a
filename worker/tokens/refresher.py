"""The single-flight refresh: under the profile's lock, check the generation again, then log in.

Run by the ``paynet.refresh_token`` task. ``Refresher.run`` does one attempt and says whether and
when to try again; the task turns that into its countdown retry. Every failed login and every
outage met here logs one ERROR line with the profile and the cause code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

from worker.core import metrics, spans
from worker.core.backoff import backoff
from worker.core.causes import Cause
from worker.core.clock import Clock
from worker.core.logins import Issued, LoginFailure, TokenSource
from worker.core.outages import Unavailable, translated
from worker.core.retry import retrying
from worker.settings import Settings, TokenTiming
from worker.tokens.coordination import Coordinator
from worker.tokens.liveness import HeldLock
from worker.tokens.policy import WAIT_STEP, refused_recently, usable
from worker.tokens.record import TokenRecord
from worker.tokens.store import TokenStore

log = logging.getLogger("worker.refresh")

# Between two attempts after a transient login failure: doubling, within a waiting task's
# patience (token.wait_timeout) and the login budget.
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 5.0


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


RefreshOutcome = Refreshed | AlreadyFresh | Busy | Failed


@dataclass(frozen=True)
class Plan:
    """What the refresh task does after an attempt."""

    retry_in: float | None = None  # try again after this many seconds, as ``attempt``
    attempt: int = 1
    hold: float | None = None  # done; keep new refresh requests out this long (a cool-down)
    started: float | None = None  # epoch seconds the refresh task began, for its retries


def plan_next(outcome: RefreshOutcome, attempt: int, elapsed: float, policy: TokenTiming) -> Plan:
    """Retry while waiting tasks may still use the token; past their bound, stop and cool down."""
    if isinstance(outcome, Busy) and elapsed + WAIT_STEP < policy.wait_timeout:
        return Plan(WAIT_STEP, attempt)
    if not isinstance(outcome, Failed) or outcome.retry_in is None:
        return Plan()
    if elapsed + outcome.retry_in < policy.wait_timeout:
        return Plan(outcome.retry_in, attempt + 1)
    return Plan(hold=outcome.retry_in)


class Refresher:
    def __init__(
        self,
        settings: Settings,
        store: TokenStore,
        coordinator: Coordinator,
        sources: Mapping[str, TokenSource],
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.coordinator = coordinator
        self.sources = sources  # per profile: Paynet's login, or a bearer integration's
        self.clock = clock

    def policy(self, profile: str) -> TokenTiming:
        return self.settings.token_policy(profile)

    def run(
        self,
        profile: str,
        stale_generation: int,
        attempt: int = 1,
        started: float | None = None,
        force: bool = False,
    ) -> Plan:
        """One attempt of the refresh task begun at epoch ``started`` (now, for the first);
        keeps or ends its request."""
        if started is None:
            started = self.clock().timestamp()
        outcome = self.refresh(profile, stale_generation, attempt, force)
        elapsed = self.clock().timestamp() - started
        plan = replace(plan_next(outcome, attempt, elapsed, self.policy(profile)), started=started)
        try:
            if plan.retry_in is not None:
                self.coordinator.keep_request(profile, stale_generation, plan.retry_in)
            elif plan.hold is not None:
                self.coordinator.hold_request(profile, stale_generation, plan.hold)
            else:
                self.coordinator.finish_request(profile, stale_generation)
        except Unavailable as outage:
            log.warning("refresh request of profile %s left as it was: %s", profile, outage)
        return plan

    def refresh(
        self, profile: str, stale_generation: int, attempt: int = 1, force: bool = False
    ) -> RefreshOutcome:
        started = time.monotonic()
        try:
            held = self.coordinator.acquire(profile, stale_generation)
        except Unavailable as outage:
            return self._outage(profile, outage, attempt, started)
        if held is None:
            return Busy()
        try:
            with held:  # the heartbeat renews the lock and the request while this runs
                return self._refresh_locked(profile, stale_generation, attempt, force, held)
        except Unavailable as outage:
            return self._outage(profile, outage, attempt, started)
        finally:
            try:
                released = self.coordinator.release(held)
            except Unavailable:
                released = True  # Redis is gone, and the lock with it or by its TTL
            if not released:
                log.warning(
                    "refresh lock of profile %s was lost before the refresh ended; the login "
                    "fence kept the store consistent",
                    profile,
                )

    def _outage(self, profile: str, outage: Unavailable, attempt: int, started: float) -> Failed:
        log.error(
            "token refresh failed: profile=%s cause=%s duration=%.3fs attempt=%d: %s",
            profile,
            outage.cause,
            time.monotonic() - started,
            attempt,
            outage.detail,
        )
        delay = backoff(attempt, BACKOFF_FIRST, BACKOFF_MAX)
        return Failed(LoginFailure(outage.cause, outage.detail), delay)

    def _refresh_locked(
        self, profile: str, stale_generation: int, attempt: int, force: bool, held: HeldLock
    ) -> RefreshOutcome:
        with translated():
            record = self.store.load(profile)
        now = record.seen_at or self.clock()
        if stale_generation > record.generation:
            # No task can have seen a generation the store never had: a forged or replayed
            # request, which must not cost a login (a login may knock out the live token).
            log.warning(
                "token refresh request ignored: profile=%s stale_generation=%d is newer than "
                "the stored generation %d",
                profile,
                stale_generation,
                record.generation,
            )
            return AlreadyFresh(record.generation)
        if usable(record, now) and (record.generation > stale_generation and not force):
            # Its writer may have died between saving and marking: waiters read it again.
            self._changed(profile)
            return AlreadyFresh(record.generation)
        refused = record.failure
        if (
            not force
            and refused
            and refused_recently(record, now, self.policy(profile).refused_cooldown)
        ):
            return Failed(LoginFailure(Cause(refused.cause), refused.detail), None)
        wait = self.coordinator.take_login_slot(profile)
        if wait > 0:
            return self._budget_exhausted(profile, record, wait)
        return self._login(profile, record.generation, attempt, held)

    def _budget_exhausted(self, profile: str, record: TokenRecord, wait: float) -> Failed:
        """No login now. Waiting tasks keep the last login's cause; the budget is ours, not it."""
        budget = self.policy(profile).login_budget
        detail = (
            f"login budget of {budget.max_logins} per {budget.window:g} s used up; "
            f"next login in {wait:.1f} s"
        )
        log.warning(
            "token refresh deferred: profile=%s cause=%s %s", profile, Cause.LOGIN_BUDGET, detail
        )
        metrics.budget_deferral(profile)
        if record.failure is not None:
            return Failed(LoginFailure(Cause(record.failure.cause), record.failure.detail), wait)
        failure = LoginFailure(Cause.LOGIN_BUDGET, detail)
        with translated():
            self.store.record_failure(profile, failure.cause, detail, permanent=False)
        self._changed(profile)
        return Failed(failure, wait)

    def _login(self, profile: str, expected: int, attempt: int, held: HeldLock) -> RefreshOutcome:
        source = self.sources[profile]
        url = source.login_url
        log.info(
            "token refresh started: profile=%s generation=%d attempt=%d", profile, expected, attempt
        )
        started = time.monotonic()
        try:
            with spans.span("paynet.login", profile=profile, attempt=attempt):
                issued = source.login()
        except LoginFailure as failure:
            duration = time.monotonic() - started
            metrics.login(profile, str(failure.cause))
            spans.event("paynet.login.failed", cause=str(failure.cause))
            log.error(
                "token refresh failed: profile=%s cause=%s url=%s duration=%.3fs attempt=%d: %s",
                profile,
                failure.cause,
                url,
                duration,
                attempt,
                failure.detail,
            )
            self._record(profile, failure)
            if failure.permanent:
                return Failed(failure, None)
            delay = backoff(attempt, BACKOFF_FIRST, BACKOFF_MAX)
            return Failed(failure, delay)
        duration = time.monotonic() - started
        metrics.login(profile, "succeeded")
        return self._keep(profile, issued, duration, held)

    def _keep(
        self, profile: str, issued: Issued, duration: float, held: HeldLock
    ) -> RefreshOutcome:
        """Save the token the provider just issued, for the life its answer gave (or the
        configured ``ttl``). Its fence is taken now, as its answer arrives,
        rather than when the login began: while the lock holds, a login whose answer arrives
        later was issued later, and a save that comes late never replaces a token numbered
        after it. The database lost for a moment is waited out within ``token.wait_timeout``
        for the two statements together (the heartbeat keeps the lock meanwhile): a token in
        hand never costs a second login."""
        policy = self.policy(profile)
        answered = time.monotonic()
        deadline = time.monotonic() + policy.wait_timeout
        with translated():  # a pool that has no connection to give is an outage as well
            fence = retrying(
                lambda: self.store.take_fence(profile), "numbering a login", _left(deadline)
            )
        if not held.owned():
            log.warning(
                "token refresh of profile %s outlived its lock: its token is kept only if no "
                "later login saved one (fence %d)",
                profile,
                fence,
            )
        token = issued.token
        with translated():
            generation = retrying(
                lambda: self.store.save_token(
                    profile, token, fence, _ttl(issued, policy, answered)
                ),
                "saving the token",
                _left(deadline),
            )
            current = self.store.load(profile).generation if generation is None else generation
        self._changed(profile)
        if generation is None:
            log.warning(
                "token refresh of profile %s lost a race: a later-numbered login's token is stored "
                "(generation %d); the login's token was discarded",
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

    def _record(self, profile: str, failure: LoginFailure) -> None:
        """Keep the failure for waiting tasks and operators; the database may be down too."""
        try:
            with translated():
                self.store.record_failure(profile, failure.cause, failure.detail, failure.permanent)
        except Unavailable as outage:
            log.warning("login failure of profile %s not recorded: %s", profile, outage)
            return
        self._changed(profile)

    def _changed(self, profile: str) -> None:
        """Tell waiting tasks the token row changed; if Redis is out of reach, they read the
        database again on their own within ``provider.REREAD_AFTER``."""
        try:
            self.coordinator.token_changed(profile)
        except Unavailable as outage:
            log.warning("token change of profile %s not announced: %s", profile, outage)


def _ttl(issued: Issued, policy: TokenTiming, answered: float) -> float | None:
    """The token's life from now: what the answer gave, less the time since it arrived (a save
    waited through a database outage), or the configured ``ttl``."""
    if issued.lifetime is None:
        return policy.ttl
    return max(0.0, issued.lifetime - (time.monotonic() - answered))


def _left(deadline: float) -> float:
    """Seconds to a monotonic ``deadline``; a moment at least, so one attempt is always made."""
    return max(0.1, deadline - time.monotonic())
