"""RabbitMQ as the broker (Redis stays the result backend and the token lock's home).

Runs when ``AMQP_URL`` names a RabbitMQ (``.ci/run`` gives the machine's,
amqp://guest:guest@127.0.0.1:5672//); skipped elsewhere, saying so. The spec's acceptance
criteria, the storm and a short chaos run, on real workers whose broker is RabbitMQ.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery
from celery.result import ResultSet
from kombu import Connection
from sqlalchemy import Engine

from devservices.stack import Services
from simulator import Simulator
from tests.conftest import call
from tests.gateway.test_chaos import run_chaos
from tests.gateway.test_storm import run_storm
from tests.support.workers import WorkerPool
from worker.queues import CALL_QUEUE, TOKEN_QUEUE, WAIT_QUEUE

AMQP_URL = os.environ.get("AMQP_URL", "")
pytestmark = pytest.mark.skipif(
    not AMQP_URL, reason="needs RabbitMQ: set AMQP_URL (for example amqp://guest:guest@host:5672//)"
)
# One RabbitMQ vhost, and the gateway's fixed queue names, for every test session side by side:
# a test here holds this lock for its whole run, so that no other session's workers consume
# its messages (and store their results in that session's Redis).
LOCK = Path(tempfile.gettempdir()) / "paynet-gateway-tests-rabbitmq.lock"


@pytest.fixture(autouse=True)
def rabbitmq_to_ourselves() -> Iterator[None]:
    """Autouse: set up before, and torn down after, every other fixture (the workers too)."""
    with LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def rabbit(gateway_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The workers' extra environment; the gateway's queues start empty."""
    with Connection(AMQP_URL, connect_timeout=5) as conn:
        channel = conn.default_channel
        for queue in (CALL_QUEUE, WAIT_QUEUE, TOKEN_QUEUE):
            try:
                channel.queue_purge(queue)
            except Exception:  # not declared yet: nothing to purge
                channel = conn.channel()
    yield {"CELERY_BROKER_URL": AMQP_URL}


@pytest.fixture
def rabbit_producer(real_services: Services, rabbit: dict[str, str]) -> Iterator[Celery]:
    app = Celery("payment-service", broker=AMQP_URL, backend=real_services.redis_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_routes={"paynet.*": {"queue": CALL_QUEUE}},
    )
    yield app
    app.close()


def test_the_acceptance_criteria_hold_on_rabbitmq(
    start_workers: Callable[..., WorkerPool],
    rabbit_producer: Celery,
    rabbit: dict[str, str],
    simulator: Simulator,
) -> None:
    workers = start_workers(processes=2, concurrency=8, env=rabbit)
    assert "amqp://" in workers.logs()  # the banner names the broker it consumes from
    assert "stale queue binding" not in workers.logs()  # the start-up clean-up works on AMQP
    assert call(rabbit_producer, params={"n": 0}).get(timeout=30) == {"n": 0}
    assert simulator.stats()["logins_succeeded"] == 1  # no token: one login, then the call
    simulator.revoke()
    values = ResultSet([call(rabbit_producer, params={"i": i}) for i in range(50)]).join(timeout=60)
    assert values == [{"i": i} for i in range(50)]
    stats = simulator.stats()
    assert stats["logins_succeeded"] == 2  # the rejected token renewed once for all 50
    assert stats["logins_attempted"] == 2


@pytest.mark.slow
def test_storm_on_rabbitmq_logs_in_once_per_revocation(
    start_workers: Callable[..., WorkerPool],
    rabbit_producer: Celery,
    rabbit: dict[str, str],
    simulator: Simulator,
) -> None:
    start_workers(processes=2, concurrency=8, env=rabbit)
    run_storm(rabbit_producer, simulator)


@pytest.mark.slow
def test_short_chaos_on_rabbitmq_executes_every_payment_at_most_once(
    start_workers: Callable[..., WorkerPool],
    rabbit_producer: Celery,
    rabbit: dict[str, str],
    simulator: Simulator,
    engine: Engine,
) -> None:
    # A killed worker's unacknowledged messages come back as soon as its connection closes
    # (RabbitMQ has no visibility timeout): the ledger absorbs the redelivery.
    run = run_chaos(
        start_workers,
        rabbit_producer,
        simulator,
        engine,
        payments=120,
        final=frozenset({"succeeded", "failed"}),
        env=rabbit,
        kill_every=2.0,
    )
    assert set(run.states.values()) <= {"succeeded", "failed"}
