"""Wiring: the per-process gateway built from settings and the collaborators it is handed.

``build_runtime`` only connects parts; it is given the way to publish a refresh task (the Celery
app is above this module) and the clock, so that tests and the benchmarks hand in their own. Each
process builds its own after fork, so no socket or connection crosses it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from sqlalchemy import Engine

from worker.calls.gateway import Gateway
from worker.calls.keyed import KeyedCalls
from worker.calls.send import Sender
from worker.config import REPO_ROOT
from worker.core.clock import Clock, utcnow
from worker.core.logins import TokenSource
from worker.core.seal import Seal
from worker.db.clock import DatabaseClock
from worker.db.engine import make_engine
from worker.integrations.calls import IntegrationCalls
from worker.integrations.client import BearerClient
from worker.ledger.store import LedgerStore
from worker.paynet.client import PaynetClient
from worker.paynet.transport import new_session
from worker.settings import Settings
from worker.tokens.coordination import Coordinator, Publish
from worker.tokens.crypto import cipher_from_settings, seal_from_settings
from worker.tokens.provider import TokenProvider
from worker.tokens.refresher import Refresher
from worker.tokens.store import TokenStore


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    redis: Redis
    store: TokenStore
    coordinator: Coordinator
    provider: TokenProvider
    refresher: Refresher
    clients: dict[str, PaynetClient]
    gateway: Gateway  # the entry point of paynet.call: keyed calls via the ledger
    seal: Seal  # of the internal state that travels through the broker
    integrations: IntegrationCalls  # the entry point of integration.call

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()
        for client in self.clients.values():
            client.session.close()
        for bearer in self.integrations.clients.values():
            bearer.session.close()


def build_runtime(
    settings: Settings,
    publish: Publish,
    base: Path = REPO_ROOT,
    clock: Clock = utcnow,
    seal: Seal | None = None,
    slots: int = 1,
) -> Runtime:
    """``slots``: how many tasks this process runs at once; its connection pools fit them."""
    engine = make_engine(settings.database.url, slots)
    redis = Redis.from_url(settings.redis.url, socket_timeout=5, socket_connect_timeout=3)
    # Every decision between hosts is taken in the database's time: ``clock`` (the host's)
    # only carries it between two reads.
    database_clock = DatabaseClock(engine, clock)
    now = database_clock.now
    store = TokenStore(engine, cipher_from_settings(settings.security, base), database_clock)
    # Each integration's token timing; Paynet's profiles share ``token``.
    policies = {name: integration.policy for name, integration in settings.integrations.items()}
    coordinator = Coordinator(redis, settings.token, publish, policies)
    session = new_session(max(64, slots))
    transient = frozenset(settings.token.transient_login_codes)
    clients = {
        name: PaynetClient(profile, session, transient)
        for name, profile in settings.paynet.profiles.items()
    }
    bearers = {
        name: BearerClient(name, integration, new_session(max(64, slots)), now)
        for name, integration in settings.integrations.items()
    }
    sources: dict[str, TokenSource] = {**clients, **bearers}
    provider = TokenProvider(store, coordinator, settings.token, now, policies)
    # Transient database faults in the ledger are retried within the token wait bound.
    ledger = LedgerStore(engine, retry_timeout=settings.token.wait_timeout)
    return Runtime(
        settings,
        engine,
        redis,
        store,
        coordinator,
        provider,
        Refresher(settings, store, coordinator, sources, now),
        clients,
        gateway_for(settings, provider, clients, ledger),
        seal or seal_from_settings(settings.security, base),
        IntegrationCalls(provider, bearers),
    )


def gateway_for(
    settings: Settings,
    provider: TokenProvider,
    clients: dict[str, PaynetClient],
    ledger: LedgerStore,
) -> Gateway:
    """The call path over a token provider: the benchmarks build one over their own."""
    sender = Sender(provider, clients, settings.token)
    return Gateway(sender, KeyedCalls(settings, sender, ledger))


Factory = Callable[[], Runtime]

_lock = threading.Lock()
_factory: Factory | None = None
_current: tuple[int, Runtime] | None = None


def configure(factory: Factory) -> None:
    """How this process builds its runtime (the app wires the default; benchmarks their own)."""
    global _factory
    with _lock:
        _factory = factory


def get_runtime() -> Runtime:
    """This process's runtime; a forked child builds its own on first use."""
    global _current
    with _lock:
        if _current is None or _current[0] != os.getpid():
            if _factory is None:
                raise RuntimeError("no runtime factory configured (worker.celery wires one)")
            _current = (os.getpid(), _factory())
        return _current[1]


def reset_runtime() -> None:
    global _current
    with _lock:
        _current = None
