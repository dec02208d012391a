"""What the workers share through Redis: refresh requests, the refresh lock, the login budget.

A refresh request is a key per (profile, stale generation) set with NX, so a storm of
rejections of one token enqueues one refresh task. The key expires by itself, so a refresh task
lost with its worker is requested again by the next task that polls.

Every method raises ``Unavailable`` (never a redis-py exception) when Redis cannot be reached.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable

from redis import Redis
from redis.exceptions import LockError
from redis.lock import Lock

from worker.core import metrics
from worker.core.clock import Clock, utcnow
from worker.core.outages import translated
from worker.settings import TokenSettings

Enqueue = Callable[[str, int], None]
log = logging.getLogger("worker.refresh")

# A sliding window of login times per profile, atomically: drop the old ones, count, admit or
# say how long until the oldest leaves the window. KEYS[1] the log; ARGV now, window (ms), max.
_TAKE_LOGIN_SLOT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class Coordinator:
    def __init__(
        self, redis: Redis, policy: TokenSettings, enqueue: Enqueue, clock: Clock = utcnow
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.policy = policy
        self.enqueue = enqueue
        self._take_login_slot = redis.register_script(_TAKE_LOGIN_SLOT)

    @staticmethod
    def _request_key(profile: str, stale_generation: int) -> str:
        return f"paynet:refresh-requested:{profile}:{stale_generation}"

    def request_refresh(self, profile: str, stale_generation: int) -> bool:
        """Enqueue a refresh unless one is already pending for this generation."""
        key = self._request_key(profile, stale_generation)
        ttl = math.ceil(self.policy.lock_ttl)
        with translated():
            if not self.redis.set(key, "1", nx=True, ex=ttl):
                metrics.refresh_request(profile, enqueued=False)
                return False
        try:
            self.enqueue(profile, stale_generation)
        except Exception:
            with translated():
                self.redis.delete(key)
            raise
        log.info(
            "token refresh requested: profile=%s stale_generation=%d", profile, stale_generation
        )
        metrics.refresh_request(profile, enqueued=True)
        return True

    def keep_request(self, profile: str, stale_generation: int, seconds: float) -> None:
        """A refresh that backs off keeps its request open, so no second one is enqueued."""
        ttl = math.ceil(max(seconds, 0) + self.policy.lock_ttl)
        with translated():
            self.redis.set(self._request_key(profile, stale_generation), "1", ex=ttl)

    def hold_request(self, profile: str, stale_generation: int, seconds: float) -> None:
        """A refresh that gave up keeps new requests out for ``seconds``: a cool-down."""
        with translated():
            self.redis.set(
                self._request_key(profile, stale_generation), "1", ex=max(1, math.ceil(seconds))
            )

    def finish_request(self, profile: str, stale_generation: int) -> None:
        with translated():
            self.redis.delete(self._request_key(profile, stale_generation))

    def acquire(self, profile: str) -> Lock | None:
        """The profile's refresh lock (owner token, TTL ``token.lock_ttl``), or None if held."""
        lock: Lock = self.redis.lock(
            f"paynet:refresh-lock:{profile}", timeout=self.policy.lock_ttl, blocking=False
        )
        with translated():
            return lock if lock.acquire(blocking=False) else None

    def release(self, lock: Lock) -> bool:
        """False if the lock had expired (and may belong to another refresher by now)."""
        try:
            with translated():
                lock.release()
        except LockError:
            return False
        return True

    def take_login_slot(self, profile: str, now: float | None = None) -> float:
        """0 if a login may go ahead now, else the seconds until the budget admits one.

        At most ``max_logins`` in any ``window`` seconds, across every worker and host.
        """
        budget = self.policy.login_budget
        now = self.clock().timestamp() if now is None else now
        args: list[int | str] = [
            int(now * 1000),
            int(budget.window * 1000),
            budget.max_logins,
            uuid.uuid4().hex,
        ]
        with translated():
            wait_ms = int(self._take_login_slot(keys=[self._budget_key(profile)], args=args))
        return wait_ms / 1000

    def reset_login_budget(self, profile: str) -> None:
        with translated():
            self.redis.delete(self._budget_key(profile))

    @staticmethod
    def _budget_key(profile: str) -> str:
        return f"paynet:logins:{profile}"
