"""What the workers share through Redis: refresh requests, the refresh lock, the login budget.

A refresh request is a key per (profile, stale generation) set with NX, so a storm of
rejections of one token publishes one ``paynet.refresh_token`` task. The key expires by itself:
a published refresh keeps it ``token.refresh_request_ttl`` seconds until a refresher takes it, a
running one a few seconds at a time, from the moment it takes it, while its heartbeat renews it
(``worker/tokens/liveness.py``); so a refresh lost with its worker, at whatever instant, is
requested again within seconds by the next task that polls. The login budget counts in Redis's
own time (``TIME``).

The token's state mark is a random value set after every write of the profile's token row. A
waiting task compares it with the mark its process read before its last look at the database,
and reads the database again only when it changed: waiting costs Redis one read per process per
50 ms however many tasks wait (``worker/tokens/provider.py``), and the token store one read per
process per change.

Every method raises ``Unavailable`` (never a redis-py exception) when Redis cannot be reached,
and ``request_refresh`` also when the broker takes no refresh task.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable, Mapping

from redis import Redis
from redis.exceptions import LockError
from redis.lock import Lock

from worker.core import metrics
from worker.core.causes import Cause
from worker.core.outages import Unavailable, first_line, translated
from worker.settings import TokenTiming
from worker.tokens.liveness import HeldLock

Publish = Callable[[str, int], None]  # publishes the refresh task for (profile, stale generation)
log = logging.getLogger("worker.refresh")

# A sliding window of login times per profile, atomically and in Redis's own clock: drop the
# old ones, count, admit or say how long until the oldest leaves the window. KEYS[1] the log;
# ARGV window (ms), max, a unique member.
_TAKE_LOGIN_SLOT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class Coordinator:
    def __init__(
        self,
        redis: Redis,
        policy: TokenTiming,
        publish: Publish,
        policies: Mapping[str, TokenTiming] | None = None,
    ) -> None:
        self.redis = redis
        self.policy = policy  # Paynet's profiles'; an integration's own is in ``policies``
        self.policies = dict(policies or {})
        self.publish = publish
        self._take_login_slot = redis.register_script(_TAKE_LOGIN_SLOT)

    def policy_of(self, profile: str) -> TokenTiming:
        return self.policies.get(profile, self.policy)

    @staticmethod
    def _request_key(profile: str, stale_generation: int) -> str:
        return f"paynet:refresh-requested:{profile}:{stale_generation}"

    def request_refresh(self, profile: str, stale_generation: int) -> bool:
        """Publish the refresh task unless one is already requested for this generation."""
        key = self._request_key(profile, stale_generation)
        ttl = math.ceil(self.policy_of(profile).refresh_request_ttl)
        with translated():
            if not self.redis.set(key, "1", nx=True, ex=ttl):
                metrics.refresh_request(profile, enqueued=False)
                return False
        try:
            self.publish(profile, stale_generation)
        except Exception as exc:  # the broker's error, whichever broker: a wait like an outage
            with translated():
                self.redis.delete(key)
            raise Unavailable(
                Cause.BROKER_UNAVAILABLE, f"the refresh task was not published: {first_line(exc)}"
            ) from None
        log.info(
            "token refresh requested: profile=%s stale_generation=%d", profile, stale_generation
        )
        metrics.refresh_request(profile, enqueued=True)
        return True

    def keep_request(self, profile: str, stale_generation: int, seconds: float) -> None:
        """A refresh that backs off keeps its request open, so no second one is enqueued."""
        ttl = math.ceil(max(seconds, 0) + self.policy_of(profile).refresh_request_ttl)
        with translated():
            self.redis.set(self._request_key(profile, stale_generation), "1", ex=ttl)

    def hold_request(self, profile: str, stale_generation: int, seconds: float) -> None:
        """A refresh that gave up keeps new requests out for ``seconds``: a cool-down."""
        with translated():
            self.redis.set(
                self._request_key(profile, stale_generation), "1", ex=max(1, math.ceil(seconds))
            )

    def finish_request(self, profile: str, stale_generation: int) -> None:
        """Done: later requests for this generation (from reads made before the save) are still
        deduplicated for ``token.refresh_request_ttl``: one generation costs one refresh."""
        self.keep_request(profile, stale_generation, 0)

    def acquire(self, profile: str, stale_generation: int) -> HeldLock | None:
        """The profile's refresh lock, renewed while held (enter the result), or None if held."""
        liveness = self.policy_of(profile).refresh_liveness
        # Not thread-local: the heartbeat thread renews the token the task's thread acquired.
        lock: Lock = self.redis.lock(
            f"paynet:refresh-lock:{profile}", timeout=liveness, blocking=False, thread_local=False
        )
        with translated():
            if not lock.acquire(blocking=False):
                return None
        key = self._request_key(profile, stale_generation)
        return HeldLock(self.redis, lock, key, liveness)

    @staticmethod
    def _state_key(profile: str) -> str:
        return f"paynet:token-state:{profile}"

    def state_mark(self, profile: str) -> str:
        """The token row's current mark; a new one if Redis lost it (its restart, a flush)."""
        key = self._state_key(profile)
        with translated():
            mark = self.redis.get(key)
            if mark is None:
                self.redis.set(key, uuid.uuid4().hex, nx=True)
                mark = self.redis.get(key)
        return mark.decode() if isinstance(mark, bytes) else str(mark)

    def token_changed(self, profile: str) -> None:
        """After the token row was written (a token, a failure): waiters read it again."""
        with translated():
            self.redis.set(self._state_key(profile), uuid.uuid4().hex)

    def release(self, held: HeldLock) -> bool:
        """False if the lock had expired (and may belong to another refresher by now)."""
        try:
            with translated():
                held.lock.release()
        except LockError:
            return False
        return True

    def note_rejection(self, profile: str, generation: int, at: str) -> None:
        """For operators (``token status``): the last generation Paynet rejected, and when."""
        with translated():
            self.redis.hset(
                self._rejected_key(profile), mapping={"generation": generation, "at": at}
            )

    def last_rejection(self, profile: str) -> tuple[int, str] | None:
        with translated():
            found = self.redis.hgetall(self._rejected_key(profile))
        if not found:
            return None
        at = found[b"at"]
        return int(found[b"generation"]), at.decode() if isinstance(at, bytes) else str(at)

    @staticmethod
    def _rejected_key(profile: str) -> str:
        return f"paynet:token-rejected:{profile}"

    def take_login_slot(self, profile: str) -> float:
        """0 if a login may go ahead now, else the seconds until the budget admits one.

        At most ``max_logins`` in any ``window`` seconds, across every worker and host, as
        Redis's clock counts them (no host's clock is asked).
        """
        budget = self.policy_of(profile).login_budget
        args: list[int | str] = [
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
