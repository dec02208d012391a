"""``paynet.sweep_ledger``: the workers' own reconciliation of keys nobody else will finish.

Published once per ``ledger.sweep_interval`` across the fleet by a timer in every worker
(``worker/sweeps.py``); a lock keeps one sweep at a time. Each key is decided as its own task
would have (``worker/calls/reconcile.py``); then finished keys past ``ledger.retention`` are
deleted, a batch at a time. The task returns nothing a reader could use.
"""

from __future__ import annotations

import logging
import time

from celery import Task

from worker.calls.reconcile import reconcile_abandoned
from worker.celery import app
from worker.ledger.store import LedgerStore
from worker.queues import SWEEP_TASK
from worker.runtime import get_runtime
from worker.sweeps import LOCK_KEY

log = logging.getLogger("worker.ledger")

BATCH = 50  # keys looked at per sweep, oldest first; the rest wait for the next sweep
TOKEN_WAIT = 10.0  # seconds a status call waits for a token before it counts as "cannot tell"
PRUNE_BATCH = 1000  # finished keys deleted per statement: each delete stays short


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
        retention = runtime.settings.ledger.retention
        if retention:
            pruned = prune(keyed.store, retention, deadline)
            if pruned:
                log.info(
                    "ledger sweep: %d finished keys older than %g s deleted", pruned, retention
                )
    finally:
        if lock.owned():
            lock.release()


def prune(store: LedgerStore, retention: float, deadline: float, batch: int = PRUNE_BATCH) -> int:
    """Delete finished keys past ``retention``, a batch at a time until none is left or the
    sweep's time is up (the next sweep goes on); how many."""
    pruned = 0
    while time.monotonic() < deadline:
        deleted = store.prune(retention, batch)
        pruned += deleted
        if deleted < batch:
            break
    return pruned
