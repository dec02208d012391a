"""A keyed call driven in-process against the simulator, real PostgreSQL and real Redis, for
the branches that worker runs reach only by chance: the database lost after Paynet answered,
and an answer that comes back after another task took the key over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from devservices.stack import Services
from simulator import Simulator
from tests.support.payments import payment
from tests.support.tcp_proxy import TcpProxy, postgres_target, postgres_via
from tests.support.waiting import wait_for
from worker.calls.request import CallRequest, parse_call
from worker.config import load_settings
from worker.core.clock import Clock, utcnow
from worker.ledger.record import State
from worker.ledger.store import LedgerStore
from worker.runtime import Runtime, build_runtime
from worker.tokens.refresher import Refreshed


def ahead(seconds: float) -> Clock:
    """A host whose clock runs ``seconds`` ahead: how one process sees a lease as long over."""
    return lambda: utcnow() + timedelta(seconds=seconds)


@pytest.fixture
def make_runtime(gateway_env: dict[str, str]) -> Iterator[Callable[..., Runtime]]:
    built: list[Runtime] = []

    def make(env: dict[str, str] | None = None, clock: Callable[[], datetime] = utcnow) -> Runtime:
        settings = load_settings(env={**gateway_env, **(env or {})})
        runtime = build_runtime(settings, lambda profile, generation: None, clock=clock)
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


def keyed(runtime: Runtime, key: str) -> CallRequest:
    return parse_call(payment(key), runtime.settings.paynet.profiles)


def with_token(runtime: Runtime) -> Runtime:
    assert isinstance(runtime.refresher.refresh("default", 0), Refreshed)
    return runtime


def test_an_answer_the_ledger_cannot_record_is_handed_back_and_reconciled_later(
    make_runtime: Callable[..., Runtime],
    real_services: Services,
    simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = TcpProxy(postgres_target(real_services.database_url)).start()
    through_proxy = {
        "DATABASE_URL": postgres_via(real_services.database_url, proxy),
        "PAYNET_TOKEN_WAIT_TIMEOUT": "2",  # the ledger's retry bound on a lost database
    }
    runtime = with_token(make_runtime(through_proxy))
    simulator.inject_fault("resource", "execute_then_hang", count=1, delay=1.0)

    def cut_once_executed() -> None:
        wait_for(lambda: simulator.stats()["executions"].get("db-lost") == 1)
        proxy.cut()

    cutter = threading.Thread(target=cut_once_executed)
    cutter.start()
    with caplog.at_level(logging.INFO):
        result = runtime.gateway.call(keyed(runtime, "db-lost"), task_id="t1")
    cutter.join()

    assert result["transactionId"]
    assert any("succeeded at Paynet but not recorded" in r.getMessage() for r in caplog.records)
    proxy.start()
    row = LedgerStore(runtime.engine).load("db-lost")
    assert row is not None and row.state is State.SENT  # the answer never reached the ledger

    # A resubmission once the lease is over (a host whose clock is a minute ahead) reconciles
    # it through the status call: the same transaction, still executed once.
    later = make_runtime(through_proxy, clock=ahead(60))
    again = later.gateway.call(keyed(later, "db-lost"), task_id="t2")
    assert again["transactionId"] == result["transactionId"]
    assert simulator.stats()["executions"] == {"db-lost": 1}
    settled = LedgerStore(runtime.engine).load("db-lost")
    assert settled is not None and settled.state is State.SUCCEEDED
    proxy.cut()


def test_an_answer_after_the_key_was_taken_over_never_overwrites_the_recorded_outcome(
    make_runtime: Callable[..., Runtime],
    engine: Any,
    simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = with_token(make_runtime())
    takeover = make_runtime(clock=ahead(60))  # sees the first sender's lease as long over
    simulator.inject_fault("resource", "slow", count=1, delay=2.0)
    results: dict[str, Any] = {}

    def send_slowly() -> None:
        results["first"] = first.gateway.call(keyed(first, "late"), task_id="slow")

    sender = threading.Thread(target=send_slowly)
    with caplog.at_level(logging.INFO):
        sender.start()
        store = LedgerStore(engine)
        wait_for(lambda: (row := store.load("late")) is not None and row.state is State.SENT)
        time.sleep(0.2)  # the slow request is at Paynet, not executed yet
        results["takeover"] = takeover.gateway.call(keyed(takeover, "late"), task_id="fast")
        sender.join(timeout=30)

    recorded = store.load("late")
    assert recorded is not None and recorded.state is State.SUCCEEDED
    assert results["first"] == results["takeover"]  # both hand back what the ledger holds
    late = [r.getMessage() for r in caplog.records if "came after its lease" in r.getMessage()]
    assert len(late) == 1 and r"check it for a second execution" in late[0]
