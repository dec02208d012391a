"""A refresh that proves it is alive: its lock and its refresh request are renewed while it runs.

Both live a few seconds only (``token.refresh_liveness``) from the moment the refresher takes the
lock (the first beat is the taking itself), and a heartbeat renews them every third of that while
the login runs. So a live refresher never loses its lock however slow Paynet is, and a dead one
(its host gone, at whatever instant) lets both lapse within seconds: the next waiting task finds
no refresh request for its generation, requests one, and a live worker logs in.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from redis import Redis
from redis.exceptions import LockError
from redis.lock import Lock

from worker.core.outages import REDIS_ERRORS

log = logging.getLogger("worker.refresh")


class HeldLock:
    """The profile's refresh lock while it is held, renewed by a heartbeat thread."""

    def __init__(self, redis: Redis, lock: Lock, request_key: str, liveness: float) -> None:
        self.redis = redis
        self.lock = lock
        self.request_key = request_key
        self.liveness = liveness
        self.lost = False  # the heartbeat found the lock gone (expired, or taken over)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="refresh-heartbeat", daemon=True)

    def __enter__(self) -> HeldLock:
        # The request's bound starts now, not at the first heartbeat: a published request lives
        # ``token.refresh_request_ttl``, which may be longer than a waiting task's patience.
        try:
            self._renew_request()
        except REDIS_ERRORS as exc:
            log.warning("refresh request not renewed at start: %s", type(exc).__name__)
        self._thread.start()
        return self

    def _renew_request(self) -> None:
        self.redis.set(self.request_key, "running", ex=max(1, round(self.liveness)))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.liveness)

    def _beat(self) -> None:
        while not self._stop.wait(self.liveness / 3):
            try:
                self.lock.extend(self.liveness, replace_ttl=True)
                self._renew_request()
            except LockError:
                self.lost = True
                log.warning("refresh lock lost during a refresh (%s)", self.lock.name)
                return
            except REDIS_ERRORS as exc:  # a blip: the next beat may reach it again
                log.warning("refresh heartbeat could not reach Redis: %s", type(exc).__name__)
            except Exception as exc:  # a dead heartbeat must say so, and the lock counts as lost
                self.lost = True
                log.error("refresh heartbeat stopped: %s: %s", type(exc).__name__, exc)
                return

    def owned(self) -> bool:
        """Whether the lock is still ours, asked of Redis now."""
        if self.lost:
            return False
        try:
            return bool(self.lock.owned())
        except REDIS_ERRORS:
            return False
