"""Celery settings, derived from the typed configuration (``config.yaml``), never from os.environ.

Delivery is at least once: a payment is acknowledged only after it ran, and the idempotency
ledger makes a second delivery harmless. Each setting says why it is here.

Importing this module reads the infrastructure part of the configuration only (broker, result
store, Redis): Flower, ``celery inspect`` and producers import it too (Celery's default loader
finds it on ``sys.path``), and none of them has, or needs, a Paynet password. What only a
worker needs, derived from the Paynet settings, is in ``worker/limits.py``; a worker applies it
at start (worker/lifecycle.py), once it has loaded and checked everything.
"""

from __future__ import annotations

import sys
from typing import Any

from kombu import Exchange, Queue  # type: ignore[attr-defined]

from worker.config import ConfigError, get_infrastructure
from worker.queues import (
    CALL_QUEUE,
    CALL_TASK,
    INTEGRATION_TASK,
    REFRESH_TASK,
    SWEEP_TASK,
    TOKEN_QUEUE,
    WAIT_QUEUE,
    integration_queues,
)

try:
    _infrastructure = get_infrastructure()
except ConfigError as exc:  # Celery reads this module when it starts: one line, no traceback
    print(f"paynet-gateway: cannot start: {exc}", file=sys.stderr)
    raise SystemExit(2) from None

broker_url = _infrastructure.broker_url()
if broker_url.startswith(("redis://", "rediss://")):
    # kombu's Redis transport with a fix that keeps the worker alive when the broker connection
    # drops while payments are in progress (worker/broker.py).
    broker_transport = "worker.broker:Transport"
result_backend = _infrastructure.result_backend()

# JSON only: results and errors are read by producers in other languages, and pickle executes
# whatever the broker holds.
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_accept_content = ["json"]
result_expires = int(_infrastructure.celery.result_expires)

# Three queues: payments (what producers send), waits (a payment's retries while it waits for a
# token or on the ledger: they had their turn once already, so they never queue behind the
# backlog), and the refresh task's own, which nothing else is routed to: a refresh never waits
# behind payments or waiting calls, and may be given a pool of its own. A plain
# `celery -A worker worker` consumes all three. Each has an exchange and a routing key of its
# own, so a producer may route by queue name, by exchange and routing key (exchange "paynet", key
# "paynet": queue "paynet" only) or through its own task_routes, and each way delivers once.
task_default_queue = CALL_QUEUE
task_default_exchange = CALL_QUEUE
task_default_routing_key = CALL_QUEUE
# Each bearer integration has the same three queues of its own (worker/queues.py), so that
# its backlog, waits and refreshes never stand in front of another's; `-Q` gives it a pool.
_integration_queues = tuple(
    queue for name in _infrastructure.integration_names() for queue in integration_queues(name)
)
task_queues = tuple(
    Queue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]
    for name in (CALL_QUEUE, WAIT_QUEUE, TOKEN_QUEUE, *_integration_queues)
)


def _route_integration_call(name: str, args: Any, kwargs: Any, options: Any, **_: Any) -> Any:
    """``integration.call`` goes to its integration's queue, named by its ``integration``."""
    if name != INTEGRATION_TASK or not isinstance(kwargs, dict):
        return None
    integration = kwargs.get("integration")
    if integration not in _infrastructure.integration_names():
        return None  # the worker that takes it refuses it, naming the integration
    return {"queue": integration}


task_routes = (
    _route_integration_call,
    {
        CALL_TASK: {"queue": CALL_QUEUE},
        REFRESH_TASK: {"queue": TOKEN_QUEUE},
        SWEEP_TASK: {"queue": CALL_QUEUE},
    },
)

# At-least-once delivery. A payment is never lost with a worker, and a second delivery of it is
# harmless: the idempotency ledger hands back the recorded outcome, waits for the task that is
# sending it, or reconciles it (docs/delivery-guarantee.md).

# Acknowledge after the task ran, so a worker that dies mid-payment leaves the message to be
# delivered again (the ledger reconciles it) instead of losing it.
task_acks_late = True
# A pool child killed mid-task (OOM, SIGKILL) requeues its message rather than acking it. A
# message that kills its child every time would loop: the ledger stops sending a key after
# worker.ledger.policy.MAX_SENDS claims without an outcome, and the task then ends.
task_reject_on_worker_lost = True
# Take one message at a time per slot: late acks make a prefetched backlog stuck behind a slow
# call, and it would be redelivered elsewhere only after the visibility timeout if this worker
# died.
worker_prefetch_multiplier = 1
# On a lost broker connection let running payments finish and record their outcome; their acks
# are lost with the connection, and the redelivered copies find the outcome in the ledger.
# (Cancelling them instead would cut payments off mid-call and leave each one to reconcile.)
worker_cancel_long_running_tasks_on_connection_loss = False
# A run past its hard time limit is requeued, not acknowledged (Celery's default acknowledges
# it and stores TimeLimitExceeded): its payment may be at Paynet, and the run that comes back
# reconciles it and stores the truth. paynet.call's own request class also keeps the false
# failure out of the result backend (tasks/timeouts.py).
task_acks_on_timeout = False

# The gateway keeps its own wait counters in the task's kwargs (a wait is a retry that must not
# eat a retry budget). The tasks' hard time limits need the Paynet settings: worker_limits.
task_annotations = {CALL_TASK: {"max_retries": None}}

# The broker's transport options that need no Paynet setting; a worker adds its redelivery
# timing at start (worker_limits).
broker_transport_options = {
    # kombu's Redis channel allows 10 connections: a gevent worker acknowledging a hundred tasks
    # at once ran out ("Couldn't ack ... MaxConnectionsError") and its tasks were delivered
    # again. Connections are opened only as needed, so a prefork worker still uses a few.
    "max_connections": 1000,
}
# A retry (a wait) is a publish: if it fails, Celery rejects the running message without
# requeueing it, and the payment is gone. Keep publishing through a Redis restart (~30 s).
task_publish_retry_policy = {
    "max_retries": 30,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
# A result written while Redis restarts is retried for as long, so the producer still gets it
# (and not a ConnectionError for a payment that succeeded). ``always_retry`` covers every backend
# operation of storing a result, the read before the write included; the retry policy the
# writes themselves.
result_backend_always_retry = True
result_backend_max_retries = 15
result_backend_max_sleep_between_retries_ms = 2000
result_backend_transport_options = {"retry_policy": {"timeout": 30.0}}
broker_connection_retry_on_startup = True

# Flower and `celery events` show task states; results carry no secret (see docs/security.md).
worker_send_task_events = True
task_send_sent_event = True
task_track_started = True
