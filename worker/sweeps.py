"""The workers finish what they started, with no scheduler to deploy: every worker's main
process runs a small timer that, once per ``ledger.sweep_interval`` across the whole fleet (a
Redis key set only if absent), publishes one ``paynet.sweep_ledger`` task. That task, run in a
pool slot like any other and shown in Flower, reconciles the keys left ``sent`` past their lease
(``worker/calls/reconcile.py``); its own lock keeps two sweeps from overlapping.
"""

from __future__ import annotations

import logging
import random
import threading

from celery import Celery
from redis import Redis

from worker import queues

log = logging.getLogger("worker.ledger")

DUE_KEY = "paynet:ledger-sweep-due"  # set by the worker that publishes this interval's sweep
LOCK_KEY = "paynet:ledger-sweep-lock"  # held by the sweep that runs


class SweepTimer:
    """A daemon thread (a greenlet under gevent) in the worker's main process."""

    def __init__(self, app: Celery, redis_url: str, interval: float, hostname: str) -> None:
        self.app = app
        self.redis = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=3)
        self.interval = interval
        self.hostname = hostname
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="paynet-ledger-sweep", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.redis.close()

    def _run(self) -> None:
        # Jittered, so that a fleet started at once does not ask Redis in step.
        while not self.stopped.wait(self.interval * random.uniform(0.5, 1.0)):  # noqa: S311
            try:
                self.tick()
            except Exception as exc:  # Redis or the broker away: the next tick tries again
                log.warning("ledger sweep not published: %s", type(exc).__name__)

    def tick(self) -> bool:
        """Publish this interval's sweep if no worker of the fleet did; whether it did."""
        due = self.redis.set(DUE_KEY, self.hostname, nx=True, px=max(1, int(self.interval * 1000)))
        if not due:
            return False
        self.app.send_task(queues.SWEEP_TASK, queue=queues.CALL_QUEUE, ignore_result=True)
        return True
