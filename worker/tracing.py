"""OpenTelemetry traces, switched on by the standard ``OTEL_*`` variables (the ``otel`` extra).

Off unless ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp`` or ``console``) and
``OTEL_SDK_DISABLED`` is not ``true``: a worker without them imports no OpenTelemetry package
and makes no span. On, a worker traces every task it runs and publishes (Celery's
instrumentation, which carries the context in each message's ``traceparent`` header, so the
producer's send, the task, its retries and the refresh task it asks for make one trace) and
every HTTP request it makes (requests' instrumentation, which sends ``traceparent`` to Paynet),
and the gateway adds its own spans (``worker/core/spans.py``). Every span is scrubbed on its way
to the exporter (``worker/core/scrubbing.py``). The exporter's own settings (endpoint, headers,
``OTEL_SERVICE_NAME``) are OpenTelemetry's standard variables.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from worker.config import ConfigError
from worker.core import spans
from worker.core.redaction import redact
from worker.core.scrubbing import scrub_attributes

log = logging.getLogger("worker.tracing")
EXPORTERS = ("otlp", "console")
_installed: list[Any] = []  # the instrumentors switched on, to switch them off again


def wanted(environ: Mapping[str, str] = os.environ) -> str | None:
    """The exporter the environment asks for, or None: tracing stays off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    name = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not name or name == "none":
        return None
    if name not in EXPORTERS:
        raise ConfigError(f"OTEL_TRACES_EXPORTER: {name!r} is not one of {', '.join(EXPORTERS)}")
    return name


def configure(environ: Mapping[str, str] = os.environ) -> bool:
    """Switch tracing on for this process (and the pool it forks) if the environment asks."""
    name = wanted(environ)
    if name is None:
        return False
    try:
        from opentelemetry import trace
    except ImportError:
        raise ConfigError(
            "OTEL_TRACES_EXPORTER is set but OpenTelemetry is not installed "
            "(pip install 'paynet-gateway[otel]')"
        ) from None
    provider = install(_exporter(name))
    trace.set_tracer_provider(provider)
    log.info("traces exported by %s", name)
    return True


def _exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def install(exporter: Any, batch: bool = True) -> Any:
    """A tracer provider exporting scrubbed spans to ``exporter``, and the instrumentation
    connected to it; returns the provider. ``batch=False`` exports each span as it ends."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "paynet-gateway"}))
    scrubbed: Any = ScrubbingExporter(exporter)  # an SpanExporter by its methods
    processor = BatchSpanProcessor(scrubbed) if batch else SimpleSpanProcessor(scrubbed)
    provider.add_span_processor(processor)
    uninstall()
    celery = CeleryInstrumentor()  # type: ignore[no-untyped-call]
    for instrumentor in (celery, RequestsInstrumentor()):
        instrumentor.instrument(tracer_provider=provider)
        _installed.append(instrumentor)
    spans.enable(provider.get_tracer("paynet-gateway"))
    return provider


def uninstall() -> None:
    """Switch the instrumentation and the gateway's spans off (tests)."""
    spans.enable(None)
    while _installed:
        _installed.pop().uninstrument()


def _scrubbed(span: Any) -> Any:
    """A copy of a finished span fit to leave the process."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Status

    status = span.status
    if status.description:
        status = Status(status.status_code, redact(status.description))
    return ReadableSpan(
        name=redact(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=scrub_attributes(span.attributes),
        events=[
            Event(event.name, scrub_attributes(event.attributes), event.timestamp)
            for event in span.events
        ],
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class ScrubbingExporter:
    """Wraps an exporter: the spans it is handed are scrubbed first (an attribute naming
    arguments or credentials dropped, URLs cut to their path, known secrets masked)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def export(self, batch: Sequence[Any]) -> Any:
        return self.inner.export([_scrubbed(span) for span in batch])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        flush = getattr(self.inner, "force_flush", None)
        return bool(flush(timeout_millis)) if flush is not None else True
