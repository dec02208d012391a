"""Worker start-up: refuse to start on a bad configuration or a schema this code cannot use.

Connects the worker's signals and the default runtime factory, whose refresh requests are
published through the app it is handed as ``paynet.refresh_token`` tasks. The worker is the one
process that loads the whole configuration, Paynet passwords included (``celeryconfig`` reads
only the infrastructure): it does so at start, in ``check_startup``, and applies then what only
a worker needs (``worker.limits.worker_limits``). Every reason not to start is one line on
standard error.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from celery import Celery
from celery.signals import (
    celeryd_after_setup,
    worker_init,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from worker import masking, production, queue_depth, queues, runtime, sweeps, tracing
from worker.calls.refreshes import RefreshRequest, new_task_id, sealed_kwargs
from worker.calls.reprs import refresh_repr
from worker.config import REPO_ROOT, ConfigError, get_settings, out_of_reach, unusable
from worker.core import metrics
from worker.core.clock import Clock, utcnow
from worker.core.outages import first_line
from worker.core.seal import Seal
from worker.db.engine import make_engine
from worker.db.schema import SchemaMismatch, ensure_compatible
from worker.ledger.store import LedgerStore
from worker.runtime import Runtime, build_runtime, get_runtime, reset_runtime
from worker.settings import Infrastructure, Settings
from worker.tokens.crypto import TokenKeyError, cipher_from_settings, seal_from_settings

if TYPE_CHECKING:
    from worker.limits import WorkerLimits

log = logging.getLogger("worker.lifecycle")
_exporter: metrics.Exporter | None = None
_sweeper: sweeps.SweepTimer | None = None
_slots = 1  # tasks one process runs at once: the concurrency, unless the pool forks
_cooperative = False  # psycopg2 patched for gevent, said once logging is set up


def cooperate_with_gevent() -> bool:
    """Under ``--pool gevent`` make psycopg2 yield to gevent's hub, before any connection.

    Celery's ``-P gevent`` patches the standard library before it imports the app (redis-py
    and requests cooperate from then on); psycopg2 talks to PostgreSQL in C and would block
    every greenlet of the process on each statement unless psycogreen makes it wait in the hub.
    """
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("socket"):
        return False
    try:
        from psycogreen.gevent import patch_psycopg
    except ImportError:
        print(
            "paynet-gateway: cannot start: the gevent pool needs psycogreen "
            "(pip install 'paynet-gateway[gevent]')",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    patch_psycopg()
    return True


def slots_of(worker: Any) -> int:
    """How many tasks one process of ``worker`` runs at once (a prefork child runs one)."""
    pool = getattr(worker, "pool_cls", None)
    module = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    if "prefork" in module or "solo" in module:
        return 1
    return max(1, int(getattr(worker, "concurrency", 1) or 1))


class DatabaseUnreachable(Exception):
    """The database did not answer; the message names the setting and the driver's reason."""


def open_database(settings: Infrastructure) -> Engine:
    """The engine of ``database.url``; a URL SQLAlchemy cannot use is a ``ConfigError`` naming
    the setting (malformed, an unknown dialect, a driver that is not installed)."""
    url = settings.database.url
    try:
        return make_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError, ImportError) as exc:
        raise unusable(settings, "database.url", url, exc) from None


def check_startup() -> Settings:
    """Everything a worker needs before it takes a task; raises with a one-line reason."""
    settings = get_settings()
    refused = production.refusal(settings)
    if refused is not None:
        raise ConfigError(refused)
    cipher_from_settings(settings.security, REPO_ROOT)
    engine = open_database(settings)
    try:
        ensure_compatible(engine)
    except SQLAlchemyError as exc:
        url = settings.database.url
        raise DatabaseUnreachable(out_of_reach(settings, "database.url", url, exc)) from None
    finally:
        engine.dispose()
    return settings


def apply_worker_limits(app: Celery, limits: WorkerLimits) -> None:
    """Before the consumer connects and the pool starts: the tasks are bound by now (the
    worker finalized the app), and the pool reads a task's time limit per request."""
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        **limits.broker_transport_options,
    }
    for name, seconds in limits.time_limits.items():
        task = app.tasks.get(name)
        if task is not None:
            task.time_limit = seconds
    for name, seconds in limits.soft_time_limits.items():
        task = app.tasks.get(name)
        if task is not None:
            task.soft_time_limit = seconds


def transport_warnings(settings: Settings) -> list[str]:
    """What start-up says about how the credentials travel to Paynet and to each integration,
    one line per concern."""
    found = []
    production = settings.security.environment == "production"
    for name, profile in settings.paynet.profiles.items():
        if not profile.verify_tls:
            found.append(
                f"TLS verification is OFF for Paynet profile {name} (verify_tls: false): "
                "the token and the password go to whoever answers"
            )
        if profile.base_url.startswith("http://") and settings.security.environment == "production":
            found.append(
                f"Paynet profile {name} is reached over plain http:// in production: "
                "the token and the password cross the network unencrypted"
            )
    for name, integration in settings.integrations.items():
        if not integration.verify_tls:
            found.append(
                f"TLS verification is OFF for integration {name} (verify_tls: false): "
                "the token and the client secret go to whoever answers"
            )
        if integration.base_url.startswith("http://") and production:
            found.append(
                f"integration {name} is reached over plain http:// in production: "
                "the token and the client secret cross the network unencrypted"
            )
    return found


def _warn_insecure(**_: Any) -> None:
    """Sent once logging is set up (``worker_init`` comes before it), so the warnings are log
    lines like any other, through the same handlers and filters."""
    for warning in transport_warnings(get_settings()):
        log.warning("%s", warning)
    if _cooperative:
        log.info("gevent pool: psycopg2 cooperative (psycogreen), %d slots per process", _slots)


def _on_worker_init(sender: Any = None, **_: Any) -> None:
    from worker.limits import worker_limits

    global _exporter, _slots
    if sender is not None:
        _slots = slots_of(sender)
    try:
        settings = check_startup()
        tracing.configure()  # before the pool forks: its children inherit it
        if sender is not None:
            apply_worker_limits(sender.app, worker_limits(settings))
        port = settings.metrics.port
        if port:  # before the pool forks
            ledger = LedgerStore(make_engine(settings.database.url), retry_timeout=0)
            depth = None if sender is None else queue_depth_of(sender.app)
            extra = [depth] if depth is not None else []
            _exporter = metrics.serve(port, ledger_counts=ledger.count_unsettled, collectors=extra)
    except (ConfigError, TokenKeyError, SchemaMismatch, DatabaseUnreachable, OSError) as exc:
        print(f"paynet-gateway: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:  # whatever else the check met: still one line, the driver's first
        print(f"paynet-gateway: cannot start: {first_line(exc)}", file=sys.stderr)
        raise SystemExit(2) from None


def queue_depth_of(app: Celery) -> Any:
    """The ``paynet_queue_depth`` collector of every queue the app declares (Redis only)."""
    conf = app.conf
    names = [queue.name for queue in conf.task_queues or ()]
    return queue_depth.collector_for(
        str(conf.broker_url or ""), names, dict(conf.broker_transport_options or {})
    )


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    """The pool is up: start the timer that has the fleet sweep its ledger (worker/sweeps.py)."""
    global _sweeper
    settings = get_settings()
    interval = settings.ledger.sweep_interval
    if not interval or sender is None:
        return
    hostname = str(getattr(sender, "hostname", "") or "worker")
    _sweeper = sweeps.SweepTimer(sender.app, settings.redis.url, interval, hostname)
    _sweeper.start()


def _on_worker_shutdown(**_: Any) -> None:
    if _sweeper is not None:
        _sweeper.stop()
    if _exporter is not None:
        _exporter.close()


def _on_process_init(**_: Any) -> None:
    reset_runtime()
    get_runtime()


def send_refresh(
    app: Celery,
    seal: Seal,
    request: RefreshRequest,
    countdown: float | None = None,
    queue: str = queues.TOKEN_QUEUE,
) -> str:
    """Publish a sealed refresh request on a token queue (Paynet's, or an integration's own);
    its task id."""
    task_id = new_task_id()
    kwargs = sealed_kwargs(seal, task_id, request)
    app.send_task(
        queues.REFRESH_TASK,
        kwargs=kwargs,
        task_id=task_id,
        queue=queue,
        kwargsrepr=refresh_repr(kwargs),
        countdown=countdown,
    )
    return task_id


def default_factory(app: Celery, clock: Clock = utcnow) -> Callable[[], Runtime]:
    """How a worker process builds its runtime; ``clock`` is the host's (tests move it)."""

    def build() -> Runtime:
        settings = get_settings()
        seal = seal_from_settings(settings.security, REPO_ROOT)

        integrations = frozenset(settings.integrations)

        def publish(profile: str, stale_generation: int) -> None:
            queue = queues.token_queue(profile, integrations)
            send_refresh(app, seal, RefreshRequest(profile, stale_generation), queue=queue)

        return build_runtime(settings, publish, clock=clock, seal=seal, slots=_slots)

    return build


def connect(app: Celery) -> None:
    global _cooperative
    _cooperative = cooperate_with_gevent()
    masking.install()
    runtime.configure(default_factory(app))
    worker_init.connect(_on_worker_init, weak=False)
    celeryd_after_setup.connect(_warn_insecure, weak=False)
    worker_ready.connect(_on_worker_ready, weak=False)
    worker_process_init.connect(_on_process_init, weak=False)
    worker_shutdown.connect(_on_worker_shutdown, weak=False)
