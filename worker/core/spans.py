"""Spans around the steps a trace of one payment should show: the login, the ledger, the waits.

Through OpenTelemetry's API, and only once tracing is switched on (``worker/tracing.py`` hands
its tracer to ``enable``): while it is off, ``span`` and ``event`` cost one ``None`` check and
the OpenTelemetry packages need not be installed. Attributes are plain names and counts, never
a payment's params or a secret; whatever is exported is scrubbed again on its way out
(``worker/core/scrubbing.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_tracer: Any = None  # an opentelemetry Tracer while tracing is on


def enable(tracer: Any) -> None:
    """Start making spans with ``tracer``; ``None`` stops."""
    global _tracer
    _tracer = tracer


@contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[None]:
    """A child of the current span for the block, if tracing is on."""
    tracer = _tracer
    if tracer is None:
        yield
        return
    with tracer.start_as_current_span(name, attributes=attributes):
        yield


def event(name: str, **attributes: str | int | float | bool) -> None:
    """An event on the current span (a task run, a login), if tracing is on."""
    if _tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().add_event(name, attributes)
