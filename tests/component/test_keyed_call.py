"""A keyed call driven in-process against the simulator, real PostgreSQL and real Redis, for
the branches that worker runs reach only by chance: the database lost after Paynet answered,
an answer recorded after its lease was reconciled by another delivery, an unknown key
resubmitted, and a found transaction that was cancelled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from devservices.stack import Services
from simulator import Simulator
from tests.support.keyed import a_key_in_doubt, keyed, like_a_task, with_token
from tests.support.tcp_proxy import TcpProxy, postgres_target, postgres_via
from tests.support.waiting import wait_for
from worker.errors import OutcomeUnknown, PaynetRpcError
from worker.ledger.policy import NOT_SUCCEEDED
from worker.ledger.record import State
from worker.ledger.store import LedgerStore
from worker.runtime import Runtime


def cut_once_executed(simulator: Simulator, proxy: TcpProxy, key: str) -> threading.Thread:
    """Cut the sender's database while Paynet holds the answer to the payment it executed."""

    def cut() -> None:
        wait_for(lambda: simulator.stats()["executions"].get(key) == 1)
        proxy.cut()

    cutter = threading.Thread(target=cut)
    cutter.start()
    return cutter


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
    sender = with_token(make_runtime(through_proxy))
    simulator.inject_fault("resource", "execute_then_hang", count=1, delay=1.0)
    cutter = cut_once_executed(simulator, proxy, "db-lost")
    with caplog.at_level(logging.INFO):
        result = sender.gateway.call(keyed(sender, "db-lost"), task_id="t1")
    cutter.join()

    assert result["transactionId"]
    assert any("succeeded at Paynet but not recorded" in r.getMessage() for r in caplog.records)
    store = LedgerStore(sender.engine)
    proxy.start()
    row = store.load("db-lost")
    assert row is not None and row.state is State.SENT  # the answer never reached the ledger

    # A resubmission waits out the lease (in the database's time), then reconciles it through
    # the status call: the same transaction, still executed once.
    again = like_a_task(make_runtime(), keyed(sender, "db-lost"), "t2")
    assert again["transactionId"] == result["transactionId"]
    assert simulator.stats()["executions"] == {"db-lost": 1}
    settled = store.load("db-lost")
    assert settled is not None and settled.state is State.SUCCEEDED
    proxy.cut()


def test_an_answer_recorded_after_its_lease_keeps_what_the_ledger_already_settled(
    make_runtime: Callable[..., Runtime],
    real_services: Services,
    engine: Any,
    simulator: Simulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = TcpProxy(postgres_target(real_services.database_url)).start()
    slow_database = {
        "DATABASE_URL": postgres_via(real_services.database_url, proxy),
        "PAYNET_TOKEN_WAIT_TIMEOUT": "25",  # retries the recording past the lease
    }
    sender = with_token(make_runtime(slow_database))
    simulator.inject_fault("resource", "execute_then_hang", count=1, delay=1.0)
    cutter = cut_once_executed(simulator, proxy, "late")
    results: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: results.update(first=sender.gateway.call(keyed(sender, "late"), task_id="a"))
    )
    with caplog.at_level(logging.INFO):
        thread.start()
        cutter.join()
        # Another delivery reaches the database directly: past the lease, it reconciles.
        results["other"] = like_a_task(make_runtime(), keyed(sender, "late"), "b")
        proxy.start()  # now the first sender's recording goes through, after its lease
        thread.join(timeout=60)

    assert results["first"] == results["other"]
    record = LedgerStore(engine).load("late")
    assert record is not None and record.state is State.SUCCEEDED
    assert record.detail is not None and record.detail.startswith("reconciled")
    assert simulator.stats()["executions"] == {"late": 1}
    assert not [r for r in caplog.records if "came after its lease" in r.getMessage()]
    proxy.cut()


def test_a_resubmitted_unknown_key_is_never_sent(
    make_runtime: Callable[..., Runtime], engine: Any, simulator: Simulator
) -> None:
    runtime = with_token(make_runtime())
    a_key_in_doubt(engine, "lost-1", unknown=True)
    with pytest.raises(OutcomeUnknown) as caught:
        like_a_task(runtime, keyed(runtime, "lost-1"), "again")
    assert "left unknown" in str(caught.value)
    assert simulator.stats()["executions"] == {}
    assert simulator.stats()["calls_by_method"] == {}  # not even a status call


def test_a_cancelled_transaction_found_by_reconciliation_is_a_failure_naming_its_state(
    make_runtime: Callable[..., Runtime], engine: Any, simulator: Simulator
) -> None:
    runtime = with_token(make_runtime())
    done = simulator.state.perform("cx-1", 15000)
    simulator.state.cancel(done.transaction_id)
    a_key_in_doubt(engine, "cx-1")
    with pytest.raises(PaynetRpcError) as caught:
        like_a_task(runtime, keyed(runtime, "cx-1"), "again")
    assert caught.value.code == NOT_SUCCEEDED
    assert "state -2" in caught.value.message
    assert caught.value.data["transactionId"] == done.transaction_id
    record = LedgerStore(engine).load("cx-1")
    assert record is not None and record.state is State.FAILED
    assert simulator.stats()["executions"] == {"cx-1": 1}  # found, never sent again
