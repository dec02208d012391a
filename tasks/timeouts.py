"""A run of ``paynet.call`` past its hard time limit is requeued, never failed.

Celery's own handling of a hard time limit stores ``TimeLimitExceeded`` as the task's result
and sends a task-failed event before it requeues the message (with ``task_acks_on_timeout``
off): a producer waiting on the result would be told the payment failed while it may be at
Paynet. This request class leaves the result alone and requeues the message; the run that
comes back finds the key's ledger row and reconciles it, and its result is the truth.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.worker.request import Request
from celery.worker.state import task_ready

log = logging.getLogger("worker.ledger")


class RequeuedOnTimeout(Request):  # type: ignore[misc]  # Celery's classes are untyped
    def on_timeout(self, soft: bool, timeout: Any) -> None:
        if soft or not self.task.acks_late:
            super().on_timeout(soft, timeout)
            return
        task_ready(self)
        log.error(
            "hard time limit (%ss) exceeded for %s[%s]: requeued; its payment is reconciled "
            "by the run that comes back",
            timeout,
            self.name,
            self.id,
        )
        self.reject(requeue=True)
