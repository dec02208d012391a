"""What only a worker needs of Celery's settings, derived from the whole configuration: the
tasks' time limits and the broker's redelivery timing. Pure (no configuration is read on
import), so the worker applies it at start (``worker/lifecycle.py``) and tests compute it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from worker.queues import CALL_TASK, INTEGRATION_TASK, REFRESH_TASK
from worker.settings import Settings


@dataclass(frozen=True)
class WorkerLimits:
    """What only a worker needs: derived from the Paynet timeouts and token waits."""

    time_limits: dict[str, float]  # task name -> hard time limit, seconds
    soft_time_limits: dict[str, float]  # task name -> soft time limit, seconds
    broker_transport_options: dict[str, Any]


def worker_limits(settings: Settings) -> WorkerLimits:
    """The time limits and the broker's redelivery timing, from the whole configuration."""
    # A run of paynet.call is stopped past the soft limit where it stands (a send in doubt is
    # recorded as such) and retried: the ledger row tells the next run what to do. The hard
    # limit a fifth later kills what the soft one could not stop (a hanging DNS lookup, a server
    # dripping its headers); that run's message is requeued, not failed (tasks/timeouts.py), so
    # its payment is reconciled and its task still ends with the truth. Together with the
    # claim-to-post bound (worker/calls/keyed.py) this is what lets the ledger believe "not
    # found" once the processing window has passed (worker/ledger/policy.py). The threads pool
    # enforces neither limit: there only the send's own deadline and the claim-to-post bound
    # hold. The refresh task's limit covers a login and its token saved through a database outage.
    call_limit = settings.call_time_limit()
    time_limits = {
        CALL_TASK: call_limit,
        REFRESH_TASK: settings.refresh_time_limit(),
        INTEGRATION_TASK: settings.integration_time_limit(),
    }
    soft_time_limits = {CALL_TASK: settings.call_soft_time_limit()}
    if settings.integrations:
        soft_time_limits[INTEGRATION_TASK] = settings.integration_soft_time_limit()
    # A message fetched but not acknowledged is delivered again after this many seconds (Redis
    # has no broker-side acks: that is how a worker killed whole, host and all, gets its
    # payments redelivered). It must exceed the longest one delivery can stay unacknowledged,
    # or a live task's message is handed to a second worker while it runs (harmless, but wasted
    # work): one run (bounded by the hard time limit above; waits are retries, each a new
    # message). It stays far below Redis' default of an hour, so a crashed host delays its
    # payments by minutes; tests set CELERY_VISIBILITY_TIMEOUT to seconds.
    visibility_timeout = int(
        settings.celery.visibility_timeout or max(300, 2 * settings.visibility_floor())
    )
    transport_options = {
        "visibility_timeout": visibility_timeout,
        # kombu looks for expired unacknowledged messages every interval * throttle seconds
        # (about 100 s by default): look every tenth of the visibility timeout instead, so a
        # crashed worker's payments come back within 1.1 visibility timeouts.
        "unacked_restore_interval": max(1, visibility_timeout // 10),
        "unacked_restore_throttle": 1,
        # The restore sweep holds a Redis mutex; one held by a worker killed mid-sweep blocks
        # every sweep until it expires (5 minutes by default). A sweep takes milliseconds.
        "unacked_mutex_expire": max(5, min(300, visibility_timeout // 2)),
    }
    return WorkerLimits(time_limits, soft_time_limits, transport_options)
