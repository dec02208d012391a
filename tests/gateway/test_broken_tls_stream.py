"""A payment whose TLS stream breaks after Paynet executed it: real workers, Redis, PostgreSQL and
the simulator behind a TLS front that lets the request through, then breaks the answer.

requests raises the same ``SSLError`` for that as for a refused certificate; were it judged by
its class, the task would end ``ProviderUnavailable`` ("nothing was sent") and the producer's
resubmission would execute the payment twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery

from simulator import Simulator
from tests.support.payments import pay
from tests.support.sockets import BreakingFront, serving
from tests.support.tls import Certificate, self_signed
from tests.support.workers import WorkerPool


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("front"))


def performs(key: str) -> Callable[[dict[str, Any]], bool]:
    return lambda request: (
        request.get("method") == "performTransaction" and request["params"].get("id") == key
    )


def test_a_payment_whose_tls_stream_breaks_after_paynet_executed_it_is_reconciled_not_resent(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    certificate: Certificate,
) -> None:
    key = "tls-broken-1"
    front = BreakingFront(simulator.url, performs(key))
    with serving(front, certificate) as server:
        env = {"PAYNET_BASE_URL": server.url, "PAYNET_CA_BUNDLE": str(certificate.cert)}
        start_workers(concurrency=2, env=env)
        first = pay(producer, key).get(timeout=60)  # ProviderUnavailable would raise here
        again = pay(producer, key).get(timeout=60)  # the producer resubmits under the same key

    executed = simulator.state.by_agent_id(key)
    assert front.broken == 1  # the stream did break, after the simulator got the request
    assert executed is not None
    assert simulator.stats()["executions"][key] == 1
    assert first["transactionId"] == executed["transactionId"] == again["transactionId"]
