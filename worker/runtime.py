"""The per-process gateway: built after fork, so no socket or connection crosses it."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from sqlalchemy import Engine

from worker.client import PaynetClient, new_session
from worker.config import REPO_ROOT, get_settings
from worker.coordination import Coordinator, Enqueue
from worker.crypto import cipher_from_settings
from worker.database import make_engine
from worker.gateway import Gateway
from worker.idempotent import IdempotentGateway
from worker.ledger_store import LedgerStore
from worker.refresher import Refresher
from worker.settings import Settings
from worker.task_repr import refresh_repr
from worker.token_provider import TokenProvider
from worker.token_store import TokenStore, utcnow


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    redis: Redis
    store: TokenStore
    coordinator: Coordinator
    provider: TokenProvider
    refresher: Refresher
    gateway: Gateway
    clients: dict[str, PaynetClient]
    idempotent: IdempotentGateway  # the entry point of paynet.call: keyed calls via the ledger

    def close(self) -> None:
        self.engine.dispose()
        self.redis.close()
        for client in self.clients.values():
            client.session.close()


def build_runtime(settings: Settings, enqueue: Enqueue, base: Path = REPO_ROOT) -> Runtime:
    engine = make_engine(settings.database.url)
    redis = Redis.from_url(settings.redis.url, socket_timeout=5, socket_connect_timeout=3)
    store = TokenStore(engine, cipher_from_settings(settings.security, base), utcnow)
    coordinator = Coordinator(redis, settings.token, enqueue)
    session = new_session()
    transient = frozenset(settings.token.transient_login_codes)
    clients = {
        name: PaynetClient(profile, session, transient)
        for name, profile in settings.paynet.profiles.items()
    }
    provider = TokenProvider(store, coordinator, settings.token, utcnow)
    gateway = Gateway(settings, provider, clients)
    # Transient database faults in the ledger are retried within the token wait bound.
    ledger = LedgerStore(engine, utcnow, retry_timeout=settings.token.wait_timeout)
    return Runtime(
        settings,
        engine,
        redis,
        store,
        coordinator,
        provider,
        Refresher(settings, store, coordinator, clients, utcnow),
        gateway,
        clients,
        IdempotentGateway(gateway, ledger, utcnow),
    )


def enqueue_refresh(profile: str, stale_generation: int) -> None:
    from worker.app import app

    kwargs = {"profile": profile, "stale_generation": stale_generation}
    app.send_task(
        "paynet.refresh_token", kwargs=kwargs, queue="paynet.token", kwargsrepr=refresh_repr(kwargs)
    )


_lock = threading.Lock()
_current: tuple[int, Runtime] | None = None


def get_runtime() -> Runtime:
    """This process's runtime; a forked child builds its own on first use."""
    global _current
    with _lock:
        if _current is None or _current[0] != os.getpid():
            _current = (os.getpid(), build_runtime(get_settings(), enqueue_refresh))
        return _current[1]


def reset_runtime() -> None:
    global _current
    with _lock:
        _current = None
