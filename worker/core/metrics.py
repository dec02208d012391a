"""Prometheus metrics: what operators watch, recorded by one line where each thing happens.

Under prefork every pool child counts into files of its own (prometheus-client's multiprocess
mode, ``PROMETHEUS_MULTIPROC_DIR``); the worker's main process adds them up and serves them on
``metrics.port``. The metric objects are built on first use, after the worker chose that
directory, so a process that never serves metrics (the CLI, a test) just counts in memory.

==========================================  ===============  ==================================
metric                                      labels           counted when
==========================================  ===============  ==================================
``paynet_logins_total``                     profile,outcome  a login ends: ``succeeded`` or the
                                                             failure's cause (``refused`` ...)
``paynet_token_rejections_total``           profile          Paynet answers unauthorized (-9999)
``paynet_token_wait_seconds``               profile,outcome  a task that waited for a token gets
                                                             one (``token``) or gives up
``paynet_call_duration_seconds``            method,outcome   a Paynet call ends (``result``,
                                                             ``rpc_error``, -9999 included, or
                                                             the failure's cause)
``paynet_refresh_requests_total``           profile,result   a refresh is asked for: ``enqueued``
                                                             or ``deduplicated`` (already pending)
``paynet_login_budget_deferrals_total``     profile          a refresh finds the login budget
                                                             used up and waits for it
``paynet_integration_call_duration_seconds`` integration,     a bearer integration's call ends
                                            method,outcome   (``http_<status>`` or the cause)
``paynet_call_errors_total``               error            a ``paynet.call`` ends with the
                                                             contract's error of that class
``paynet_ledger_keys``                      state            (a gauge, read from the ledger at
                                                             each scrape) keys without an
                                                             outcome, by state (an index read);
                                                             ``unknown`` ones need an operator
==========================================  ===============  ==================================

``paynet_queue_depth{queue}`` (a gauge) is computed by worker/queue_depth.py.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

log = logging.getLogger("worker.metrics")


@dataclass(frozen=True)
class _Metrics:
    logins: Counter
    rejections: Counter
    token_wait: Histogram
    call_duration: Histogram
    refresh_requests: Counter
    budget_deferrals: Counter
    ledger_swept: Counter
    integration_calls: Histogram
    call_errors: Counter


def _build() -> _Metrics:
    # registry=None: the objects are never registered in prometheus-client's global registry,
    # so building them again (after the multiprocess switch) cannot clash with the first ones.
    # The worker's endpoint reads the multiprocess files, not a registry.
    return _Metrics(
        logins=Counter(
            "paynet_logins",
            "Logins at Paynet's token endpoint.",
            ["profile", "outcome"],
            registry=None,
        ),
        rejections=Counter(
            "paynet_token_rejections",
            "Answers rejecting the token (-9999).",
            ["profile"],
            registry=None,
        ),
        token_wait=Histogram(
            "paynet_token_wait_seconds",
            "Time a task spent waiting for a token refresh.",
            ["profile", "outcome"],
            buckets=WAIT_BUCKETS,
            registry=None,
        ),
        call_duration=Histogram(
            "paynet_call_duration_seconds",
            "Duration of calls to Paynet resources.",
            ["method", "outcome"],
            registry=None,
        ),
        refresh_requests=Counter(
            "paynet_refresh_requests",
            "Requests for a token refresh.",
            ["profile", "result"],
            registry=None,
        ),
        budget_deferrals=Counter(
            "paynet_login_budget_deferrals",
            "Refreshes that found the login budget used up.",
            ["profile"],
            registry=None,
        ),
        ledger_swept=Counter(
            "paynet_ledger_swept",
            "Keys left sent past their lease that the workers' sweep reconciled, by result.",
            ["result"],
            registry=None,
        ),
        integration_calls=Histogram(
            "paynet_integration_call_duration_seconds",
            "Duration of calls to a bearer integration's resources.",
            ["integration", "method", "outcome"],
            registry=None,
        ),
        call_errors=Counter(
            "paynet_call_errors",
            "paynet.call tasks that ended with one of the contract's errors, by its class.",
            ["error"],
            registry=None,
        ),
    )


_lock = threading.Lock()
_current: _Metrics | None = None


def _metrics() -> _Metrics:
    global _current
    with _lock:
        if _current is None:
            _current = _build()
        return _current


def login(profile: str, outcome: str) -> None:
    _metrics().logins.labels(profile, outcome).inc()


def rejection(profile: str) -> None:
    _metrics().rejections.labels(profile).inc()


def token_wait(profile: str, seconds: float, outcome: str) -> None:
    _metrics().token_wait.labels(profile, outcome).observe(max(seconds, 0.0))


def paynet_call(method: str, outcome: str, seconds: float) -> None:
    _metrics().call_duration.labels(method, outcome).observe(max(seconds, 0.0))


def integration_call(integration: str, method: str, outcome: str, seconds: float) -> None:
    _metrics().integration_calls.labels(integration, method, outcome).observe(max(seconds, 0.0))


def refresh_request(profile: str, enqueued: bool) -> None:
    result = "enqueued" if enqueued else "deduplicated"
    _metrics().refresh_requests.labels(profile, result).inc()


def budget_deferral(profile: str) -> None:
    _metrics().budget_deferrals.labels(profile).inc()


def ledger_swept(result: str) -> None:
    """``result``: settled, reopened or unknown."""
    _metrics().ledger_swept.labels(result).inc()


def call_error(error: str) -> None:
    """``error``: the contract's class a ``paynet.call`` ended with (``OutcomeUnknown`` ...)."""
    _metrics().call_errors.labels(error).inc()


# Serving, in the worker's main process

LedgerCounts = Callable[[], Mapping[str, int]]


class _LedgerCollector:
    """``paynet_ledger_keys{state}``, read when scraped: the ledger is the one truth of it, and
    a pool child's count would be one process's view. A database out of reach leaves the
    gauge out of that scrape rather than failing it."""

    def __init__(self, counts: LedgerCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = self.counts()
        except Exception as exc:
            log.debug("ledger counts left out of this scrape: %s", type(exc).__name__)
            return
        family = GaugeMetricFamily(
            "paynet_ledger_keys", "Idempotency keys without an outcome, by state.", labels=["state"]
        )
        for state, value in sorted(counts.items()):
            family.add_metric([state], value)
        yield family


@dataclass
class Exporter:
    """The endpoint a worker host serves, and the directory its pool children count in."""

    port: int
    directory: Path
    owns_directory: bool
    server: Any

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def prepare_directory(environ: MutableMapping[str, str] = os.environ) -> tuple[Path, bool]:
    """Choose the multiprocess directory and empty it; call before the pool forks.

    A directory named by ``PROMETHEUS_MULTIPROC_DIR`` is used and cleaned (files left by an
    earlier run would be added to this one's counts); else a private one is made and removed
    at shutdown. Returns the directory and whether it was made here.
    """
    given = environ.get(MULTIPROC_VARIABLE, "").strip()
    if given:
        directory, owned = Path(given), False
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        directory, owned = Path(tempfile.mkdtemp(prefix="paynet-metrics-")), True
    environ[MULTIPROC_VARIABLE] = str(directory)
    _use_multiprocess_values()
    return directory, owned


def _use_multiprocess_values() -> None:
    """prometheus-client picks its value storage at import; pick again now the variable is set."""
    global _current
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    with _lock:
        _current = None


def serve(
    port: int,
    environ: MutableMapping[str, str] = os.environ,
    ledger_counts: LedgerCounts | None = None,
    collectors: Iterable[Any] = (),
) -> Exporter:
    """Serve the sum over every process of this worker host on ``port`` (all interfaces),
    and what ``collectors`` compute when scraped (the queue depths: worker/queue_depth.py)."""
    directory, owned = prepare_directory(environ)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    if ledger_counts is not None:
        registry.register(_LedgerCollector(ledger_counts))
    for collector in collectors:
        registry.register(collector)
    try:
        server, _thread = start_http_server(port, registry=registry)
    except OSError as exc:
        if owned:
            shutil.rmtree(directory, ignore_errors=True)
        raise OSError(f"metrics.port {port}: cannot listen ({exc.strerror})") from None
    log.info("metrics served on port %d (multiprocess directory %s)", port, directory)
    return Exporter(port, directory, owned, server)
