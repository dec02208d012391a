"""The gateway's Celery app plus what only the benchmarks need.

``celery -A bench.app worker`` runs the very same app and configuration as ``-A worker``, with
a bare task for comparison, counters of token-store reads and rejected tasks, and the baseline
strategies switched in by ``BENCH_STRATEGY``. None of this exists outside the benchmarks.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import requests
from celery import current_task
from redis import Redis
from sqlalchemy import Engine, event

from bench import strategies
from bench.counters import COUNTS
from worker import lifecycle
from worker import runtime as runtime_module
from worker.celery import app
from worker.config import get_settings

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
    client = getattr(_local, "redis", None)
    if client is None:
        client = _local.redis = Redis.from_url(get_settings().redis.url)
    return client


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


def _mark_caught(runtime: runtime_module.Runtime) -> None:
    rejected = runtime.provider.rejected

    def counting(*args: Any, **kwargs: Any) -> Any:
        task = current_task
        if task is not None and task.request.id:
            _counting_redis().hsetnx("bench:caught", task.request.id, repr(time.time()))
        return rejected(*args, **kwargs)

    runtime.provider.rejected = counting  # type: ignore[method-assign]


_gateway_runtime = lifecycle.default_factory(app)


def _bench_runtime() -> runtime_module.Runtime:
    runtime = strategies.install(
        os.environ.get("BENCH_STRATEGY", "single_flight"), _gateway_runtime()
    )
    _count_statements(runtime.engine)
    _count_waiting_reads(runtime)
    _mark_caught(runtime)
    return runtime


runtime_module.configure(_bench_runtime)
