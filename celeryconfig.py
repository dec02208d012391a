"""Celery settings, derived from the typed configuration (``config.yaml``), never from os.environ.

Delivery is at least once: a payment is acknowledged only after it ran, and the idempotency
ledger makes a second delivery harmless. Each setting says why it is here.
"""

from __future__ import annotations

from kombu import Queue  # type: ignore[attr-defined]

from worker.config import get_settings

_settings = get_settings()

broker_url = _settings.celery.broker_url or _settings.redis.url
result_backend = _settings.celery.result_backend or _settings.redis.url

# JSON only: results and errors are read by producers in other languages, and pickle executes
# whatever the broker holds.
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_accept_content = ["json"]
result_expires = int(_settings.celery.result_expires)

# Two queues: a refresh never waits behind a backlog of payments. A plain
# `celery -A worker worker` consumes both.
task_default_queue = "paynet"
task_queues = (Queue("paynet"), Queue("paynet.token"))  # type: ignore[no-untyped-call]
task_routes = {
    "paynet.call": {"queue": "paynet"},
    "paynet.refresh_token": {"queue": "paynet.token"},
}

# Acknowledge after the task ran, so a worker that dies mid-payment leaves the message to be
# delivered again (the ledger reconciles it) instead of losing it.
task_acks_late = True
# A pool child killed mid-task (OOM, SIGKILL) requeues its message rather than acking it.
task_reject_on_worker_lost = True
# Take one message at a time per slot: late acks make a prefetched backlog stuck behind a slow
# call, and it would be redelivered elsewhere if this worker died.
worker_prefetch_multiplier = 1

# A message fetched but not acknowledged is delivered again after this many seconds; it must
# exceed the longest task including its waits (token wait bound, read timeout, settle delay),
# and stays far below Redis' default of an hour so a crashed host delays payments by minutes.
_longest_task = (
    _settings.token.wait_timeout
    + max(p.timeouts.connect + p.timeouts.read for p in _settings.paynet.profiles.values())
    + _settings.ledger.settle_delay
)
broker_transport_options = {
    "visibility_timeout": int(_settings.celery.visibility_timeout or max(300, 3 * _longest_task)),
}
result_backend_transport_options = {"retry_policy": {"timeout": 5.0}}
broker_connection_retry_on_startup = True

# Flower and `celery events` show task states; results carry no secret (see README Security).
worker_send_task_events = True
task_send_sent_event = True
task_track_started = True

# The gateway keeps its own wait counters (in the task's kwargs), so Celery's own limit is off.
task_annotations = {"paynet.call": {"max_retries": None}}
