"""``paynet.sweep_ledger``: the workers' own reconciliation of keys nobody else will finish.

Published once per ``ledger.sweep_interval`` across the fleet by a timer in every worker
(``worker/sweeps.py``); a lock keeps one sweep at a time. Each key is decided as its own task
would have (``worker/calls/reconcile.py``); the task returns nothing a reader could use.
"""

from __future__ import annotations

import logging
import time

from celery import Task

from worker.calls.reconcile import reconcile_abandoned
from worker.celery import app
from worker.queues import SWEEP_TASK
from worker.runtime import get_runtime
from worker.sweeps import LOCK_KEY

log = logging.getLogger("worker.ledger")

BATCH = 50  # keys looked at per sweep, oldest first; the rest wait for the next sweep
TOKEN_WAIT = 10.0  # seconds a status call waits for a token before it counts as "cannot tell"


@app.task(name=SWEEP_TASK, bind=True, ignore_result=True)
def sweep_ledger(self: Task) -> None:
    runtime = get_runtime()
    keyed = runtime.gateway.keyed
    budget = max(30.0, runtime.settings.ledger.sweep_interval)
    deadline = time.monotonic() + budget
    lock = runtime.redis.lock(
        LOCK_KEY,
        timeout=budget + runtime.settings.send_deadline() + TOKEN_WAIT,
        blocking=False,
        thread_local=False,
    )
    if not lock.acquire(blocking=False):
        log.debug("ledger sweep skipped: another sweep is running")
        return
    try:
        for record in keyed.store.overdue(BATCH):
            if time.monotonic() > deadline:
                break
            said = reconcile_abandoned(keyed, record, TOKEN_WAIT)
            log.info("ledger sweep: key=%s: %s", record.key, said)
    finally:
        if lock.owned():
            lock.release()
