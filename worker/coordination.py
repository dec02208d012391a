"""What the workers share through Redis: refresh requests, the refresh lock, the login budget.

A refresh request is a key per (profile, stale generation) set with NX, so a storm of
rejections of one token enqueues one refresh task. The key expires by itself, so a refresh task
lost with its worker is requested again by the next task that polls.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from redis import Redis
from redis.lock import Lock

from worker.settings import TokenSettings

Enqueue = Callable[[str, int], None]


class Coordinator:
    def __init__(self, redis: Redis, policy: TokenSettings, enqueue: Enqueue) -> None:
        self.redis = redis
        self.policy = policy
        self.enqueue = enqueue

    @staticmethod
    def _request_key(profile: str, stale_generation: int) -> str:
        return f"paynet:refresh-requested:{profile}:{stale_generation}"

    def request_refresh(self, profile: str, stale_generation: int) -> bool:
        """Enqueue a refresh unless one is already pending for this generation."""
        key = self._request_key(profile, stale_generation)
        ttl = math.ceil(self.policy.lock_ttl)
        if not self.redis.set(key, "1", nx=True, ex=ttl):
            return False
        try:
            self.enqueue(profile, stale_generation)
        except Exception:
            self.redis.delete(key)
            raise
        return True

    def keep_request(self, profile: str, stale_generation: int, seconds: float) -> None:
        """A refresh that backs off keeps its request open, so no second one is enqueued."""
        ttl = math.ceil(max(seconds, 0) + self.policy.lock_ttl)
        self.redis.set(self._request_key(profile, stale_generation), "1", ex=ttl)

    def finish_request(self, profile: str, stale_generation: int) -> None:
        self.redis.delete(self._request_key(profile, stale_generation))

    def lock(self, profile: str) -> Lock:
        lock: Lock = self.redis.lock(
            f"paynet:refresh-lock:{profile}", timeout=self.policy.lock_ttl, blocking=False
        )
        return lock

    def take_login_slot(self, profile: str, now: float | None = None) -> float:
        """0 if a login may go ahead now, else the seconds until the budget's window ends."""
        budget = self.policy.login_budget
        now = time.time() if now is None else now
        window = int(now // budget.window)
        key = f"paynet:logins:{profile}:{window}"
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, math.ceil(budget.window) + 1)
        count = int(pipe.execute()[0])
        if count <= budget.max_logins:
            return 0.0
        return (window + 1) * budget.window - now

    def reset_login_budget(self, profile: str) -> None:
        for key in self.redis.scan_iter(f"paynet:logins:{profile}:*"):
            self.redis.delete(key)
