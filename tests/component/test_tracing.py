"""One payment, one trace: the producer's send, the worker's task, the login and Paynet's request.

In-process, so that an in-memory exporter sees every span: a real Celery worker
(``celery.contrib.testing.worker.start_worker``, threads pool) of the gateway's own app on the
real broker, the real database and the simulator over HTTP. Tracing is switched on the way a
worker does (``worker.tracing.install``), with the exporter in memory instead of OTLP.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

from simulator import Simulator
from tests.support.waiting import wait_for
from worker import config, tracing
from worker.runtime import reset_runtime

sdk = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")

PHONE = "998901234567"
AMOUNT = "15000.50"


def _forget_settings() -> None:
    for cached in (config.get_settings, config.get_operator_settings, config.get_infrastructure):
        cached.cache_clear()
    reset_runtime()


@pytest.fixture
def traced(gateway_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An in-process worker of the gateway's app, tracing into memory; yields the exporter."""
    for name, value in gateway_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    _forget_settings()
    from worker.celery import app

    _bind_to_this_session(app)
    exporter = sdk.InMemorySpanExporter()
    tracing.install(exporter, batch=False)
    app.set_current()  # Celery's instrumentation looks the sent task up in the current app
    try:
        with start_worker(
            app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING"
        ):
            yield exporter
    finally:
        tracing.uninstall()
        _forget_settings()


def _bind_to_this_session(app: Celery) -> None:
    """The app's configuration, read again now that the environment names this session's
    servers: an earlier test in this process may have read it (the app and ``celeryconfig``
    are module-level), and its broker, result store and connection pools with it."""
    from worker import celeryconfig

    importlib.reload(celeryconfig)
    app.config_from_object(celeryconfig, force=True)
    app._pool = None  # the producer pool and the result store of the old broker
    app.__dict__.pop("amqp", None)
    app._local = threading.local()


def _tree(spans: list[Any]) -> dict[int, Any]:
    return {span.context.span_id: span for span in spans}


def _ancestors(span: Any, by_id: dict[int, Any]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


def _login_is_rooted(spans: list[Any]) -> bool:
    """Every login and HTTP span of the payment's trace has ended, and its parents with it."""
    by_id = _tree(spans)
    sent = [s for s in spans if s.name == "apply_async/paynet.call" and s.parent is None]
    if len(sent) != 1:
        return False
    trace_id = sent[0].context.trace_id
    leaves = [
        s for s in spans if s.context.trace_id == trace_id and s.name in ("paynet.login", "POST")
    ]
    return any(s.name == "paynet.login" for s in leaves) and all(
        _ancestors(leaf, by_id)[-1:] == ["apply_async/paynet.call"] for leaf in leaves
    )


def test_one_payment_is_one_trace_from_the_producers_send_to_paynets_request(
    traced: Any, producer: Celery, simulator: Simulator, password: str
) -> None:
    params = {
        "id": "trace-1",
        "service_id": 101,
        "time": 1764158400123,
        "fields": {"phone": PHONE},
        "amount": Decimal(AMOUNT),
    }
    kwargs = {"method": "performTransaction", "params": params, "idempotency_key": "trace-1"}
    answer = producer.send_task("paynet.call", kwargs=kwargs).get(timeout=30)
    assert answer["status"] == "0"

    # The refresh task's span may end a moment after the payment's answer: wait for it.
    wait_for(lambda: _login_is_rooted(traced.get_finished_spans()), timeout=10)
    spans = traced.get_finished_spans()
    by_id = _tree(spans)
    sent = [s for s in spans if s.name == "apply_async/paynet.call" and s.parent is None]
    assert len(sent) == 1, [s.name for s in spans]
    trace_id = sent[0].context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}
    assert {"run/paynet.call", "run/paynet.refresh_token", "paynet.login"} <= names
    assert {"paynet.ledger.claim", "paynet.ledger.finish"} <= names

    login = next(s for s in in_trace if s.name == "paynet.login")
    assert "run/paynet.refresh_token" in _ancestors(login, by_id)
    assert _ancestors(login, by_id)[-1] == "apply_async/paynet.call"
    posts = [s for s in in_trace if s.name == "POST"]
    assert len(posts) >= 2  # the login and the payment, each a child of the gateway's spans
    assert all(_ancestors(post, by_id)[-1] == "apply_async/paynet.call" for post in posts)

    # Paynet's side: every request it received in this trace carried the trace's context.
    received = [r for r in simulator.recent_requests() if r["traceparent"]]
    assert {r["target"] for r in received} == {"login", "resource"}
    post_ids = {f"{post.context.span_id:016x}" for post in posts}
    for request in received:
        _version, trace, parent, _flags = str(request["traceparent"]).split("-")
        assert trace == f"{trace_id:032x}" and parent in post_ids

    print(render(in_trace))
    exported = json.dumps([json.loads(span.to_json()) for span in spans])
    for secret in (password, PHONE, AMOUNT, *simulator.issued_tokens()):
        assert secret not in exported


def render(spans: list[Any]) -> str:
    """The spans as an indented tree, children by start time (docs/operations.md shows one)."""
    by_id = _tree(spans)
    children: dict[int | None, list[Any]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent and span.parent.span_id in by_id else None
        children.setdefault(parent, []).append(span)
    start = min(span.start_time for span in spans)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_time):
            offset = (span.start_time - start) / 1e6
            took = (span.end_time - span.start_time) / 1e6
            shown = {k: v for k, v in span.attributes.items() if k in SHOWN}
            lines.append(f"{'  ' * depth}{span.name}  +{offset:.0f} ms, {took:.0f} ms  {shown}")
            for event in span.events:
                lines.append(f"{'  ' * depth}  · {event.name} {dict(event.attributes)}")
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return "\n".join(lines)


SHOWN = ("celery.queue", "messaging.destination", "http.status_code", "profile", "url.full")
