"""The gateway's Celery app plus what only the benchmarks need.

``celery -A bench.app worker`` runs the very same app and configuration as ``-A worker``, with
a bare task for comparison, counters (token-store reads, statements, the gateway's own Redis
commands, rejected and finished tasks), the moments of each refresh for a storm's profile, and
the other strategies switched in by ``BENCH_STRATEGY``. None of this exists outside the
benchmarks.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime
from typing import Any

import requests
from celery import current_task
from celery.signals import task_failure, task_postrun, task_prerun, task_success
from redis import Redis
from sqlalchemy import Engine, event

import tasks.paynet as paynet_tasks
from bench import strategies
from bench.counters import CAUGHT, COUNTS, EVENTS, gateway_command
from worker import lifecycle
from worker import runtime as runtime_module
from worker.celery import app
from worker.config import get_settings
from worker.queues import CALL_TASK
from worker.tokens.policy import AwaitRefresh

app.conf.result_extended = True  # the bench reads each task's retries; no secret in its args

_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


@app.task(name="bench.bare_call")
def bare_call(method: str, params: dict[str, Any], **_: Any) -> Any:
    """The same HTTP POST as paynet.call, with a fixed token and no token management."""
    profile = get_settings().profile("default")
    body = {
        "jsonrpc": "2.0",
        "method": method,
        "id": 1,
        "params": params,
        "token": os.environ["BENCH_FIXED_TOKEN"],
    }
    timeout = (profile.timeouts.connect, profile.timeouts.read)
    answer = _session().post(profile.url(profile.resource_path), json=body, timeout=timeout)
    return answer.json()["result"]


def _counting_redis() -> Redis:
    """One client per process for the bench's own counters (not per thread or greenlet: a new
    connection per greenlet would cost Redis commands of its own)."""
    global _counter_client
    pid = os.getpid()
    if _counter_client is None or _counter_client[0] != pid:
        _counter_client = (pid, Redis.from_url(get_settings().redis.url))
    return _counter_client[1]


_counter_client: tuple[int, Redis] | None = None


def _note(field: str, value: str) -> None:
    _counting_redis().hsetnx(EVENTS, field, value)


def _count_statements(engine: Engine) -> None:
    """Every statement the gateway sends, token-store reads apart, and the pool's pings."""

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counts = _counting_redis()
        counts.hincrby(COUNTS, "statements", 1)
        if statement.lstrip().upper().startswith("SELECT") and "paynet_tokens" in statement:
            counts.hincrby(COUNTS, "store_reads", 1)

    def checkout(*_: Any) -> None:  # pool_pre_ping: one "SELECT 1" per checkout
        _counting_redis().hincrby(COUNTS, "pings", 1)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "checkout", checkout)


def _count_waiting_reads(runtime: runtime_module.Runtime) -> None:
    """Token-store reads of the provider alone (a waiting or rejected task's), not the
    refresher's own reads under its lock."""
    load = runtime.provider._load

    def counting(profile: str) -> Any:
        _counting_redis().hincrby(COUNTS, "waiting_reads", 1)
        return load(profile)

    runtime.provider._load = counting  # type: ignore[method-assign]


def _caught(generation: int) -> None:
    """The current task met the storm (first time only): rejected, or waiting for a refresh."""
    task = current_task
    if task is None or not task.request.id or task.name != CALL_TASK:
        return
    if task.request.id not in _noted:  # a waiting task decides again at every poll
        _noted.add(task.request.id)
        _counting_redis().hsetnx(CAUGHT, task.request.id, f"{time.time()!r},{generation}")


_noted: set[str] = set()  # tasks this process has told the driver about


def _mark_caught(runtime: runtime_module.Runtime) -> None:
    """A task is caught by a storm when Paynet rejects its token, or when it decides to wait
    for a refresh (its process knows the token is dead, or a refresh is under way): either
    way the storm holds it up from then on."""
    provider = runtime.provider
    rejected, act = provider.rejected, provider._act

    def rejecting(profile: str, generation: int, *args: Any, **kwargs: Any) -> Any:
        _caught(generation)
        return rejected(profile, generation, *args, **kwargs)

    def acting(record: Any, decision: Any) -> Any:
        if isinstance(decision, AwaitRefresh):
            _caught(decision.wait.stale_generation)
        return act(record, decision)

    provider.rejected = rejecting  # type: ignore[method-assign]
    provider._act = acting  # type: ignore[method-assign]


class _Tally:
    """The gateway's own Redis commands in this process, by kind, until the next flush."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] = self._counts.get(kind, 0) + 1

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, {}
        if counts:
            pipe = _counting_redis().pipeline(transaction=False)
            for kind, n in counts.items():
                pipe.hincrby(COUNTS, f"redis:{kind}", n)
            pipe.execute()


_tally = _Tally()


def _count_gateway_redis(runtime: runtime_module.Runtime) -> None:
    """Count what the gateway's own client sends (marks, requests, the refresher's), in the
    process; flushed as each task ends, so counting adds no round trip to the token path."""
    redis = runtime.redis
    send: Any = redis.execute_command

    def counting(*args: Any, **options: Any) -> Any:
        _tally.add(gateway_command(args))
        return send(*args, **options)

    redis.execute_command = counting  # type: ignore[method-assign]


def _time_refreshes(runtime: runtime_module.Runtime) -> None:
    """When each refresh was requested, ran and logged in: the profile of a storm."""
    coordinator, refresher = runtime.coordinator, runtime.refresher
    publish, run = coordinator.publish, refresher.run

    def requested(profile: str, stale_generation: int) -> None:
        _note(f"requested:{stale_generation}", repr(time.time()))
        publish(profile, stale_generation)

    def running(profile: str, stale_generation: int, *args: Any, **kwargs: Any) -> Any:
        started = time.time()
        try:
            return run(profile, stale_generation, *args, **kwargs)
        finally:
            _note(f"refresh:{stale_generation}", f"{started!r},{time.time()!r}")

    coordinator.publish = requested
    refresher.run = running  # type: ignore[method-assign]
    for client in runtime.clients.values():
        _time_logins(client)


def _time_logins(client: Any) -> None:
    login = client.login

    def timed() -> Any:
        started = time.time()
        try:
            return login()
        finally:
            _note(f"login:{uuid.uuid4().hex}", f"{started!r},{time.time()!r}")

    client.login = timed


@task_prerun.connect
def _on_run(task_id: str = "", task: Any = None, **_: Any) -> None:
    """A retry began: when, and when its countdown said it could."""
    if task is not None and task.name == CALL_TASK and task.request.retries:
        now = time.time()
        eta = task.request.eta
        due = datetime.fromisoformat(eta).timestamp() if isinstance(eta, str) else now
        _note(f"run:{task_id}:{task.request.retries}", f"{now!r},{due!r}")


@task_postrun.connect
def _on_end(**_: Any) -> None:
    _tally.flush()


@task_success.connect
def _on_success(sender: Any = None, **_: Any) -> None:
    if sender is not None and sender.name == CALL_TASK:
        _counting_redis().hincrby(COUNTS, "finished", 1)


@task_failure.connect
def _on_failure(sender: Any = None, **_: Any) -> None:
    if sender is not None and sender.name == CALL_TASK:
        _counting_redis().hincrby(COUNTS, "finished", 1)


_gateway_runtime = lifecycle.default_factory(app)


def _bench_runtime() -> runtime_module.Runtime:
    strategy = os.environ.get("BENCH_STRATEGY", "single_flight")
    # A waiting call retries on the queue its strategy used (tasks.paynet reads the name at
    # each retry).
    paynet_tasks.WAIT_QUEUE = strategies.retry_queue(strategy)  # type: ignore[attr-defined]
    runtime = strategies.install(strategy, _gateway_runtime(), app)
    _count_statements(runtime.engine)
    _count_waiting_reads(runtime)
    _mark_caught(runtime)
    _count_gateway_redis(runtime)
    _time_refreshes(runtime)
    return runtime


runtime_module.configure(_bench_runtime)
