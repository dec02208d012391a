"""No ledger row is stuck and every final state is true: keyed calls driven in-process against
the simulator (through a proxy the test can cut), real PostgreSQL and real Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simulator import Simulator
from tests.support.keyed import a_key_in_doubt, keyed, like_a_task, with_token
from tests.support.tcp_proxy import TcpProxy
from worker.calls.reconcile import reconcile_abandoned
from worker.errors import PaynetRpcError, ProviderUnavailable
from worker.ledger.policy import MAX_SENDS, SETTLED_NOT_EXECUTED, operator_outcome
from worker.ledger.record import State
from worker.ledger.store import LedgerStore
from worker.runtime import Runtime


def test_a_key_paynet_refused_a_dozen_times_is_sent_once_paynet_is_back(
    make_runtime: Callable[..., Runtime], engine: Any, simulator: Simulator
) -> None:
    proxy = TcpProxy((simulator.host, simulator.port)).start()
    via_proxy = {"PAYNET_BASE_URL": f"http://127.0.0.1:{proxy.port}"}
    with_token(make_runtime(via_proxy))
    proxy.cut()  # connections refused: nothing can be sent
    sender = make_runtime(via_proxy)  # a process with no connection kept alive to reuse
    refusals = MAX_SENDS + 2
    for attempt in range(refusals):
        with pytest.raises(ProviderUnavailable, match="may be submitted again"):
            sender.gateway.call(keyed(sender, "refused-1"), task_id=f"try-{attempt}")
    row = LedgerStore(engine).load("refused-1")
    assert row is not None and (row.state, row.sends) == (State.RECEIVED, 0)

    proxy.start()  # Paynet is back, on the same address
    result = sender.gateway.call(keyed(sender, "refused-1"), task_id="back")

    assert result["transactionId"]
    assert simulator.stats()["executions"] == {"refused-1": 1}
    row = LedgerStore(engine).load("refused-1")
    assert row is not None and (row.state, row.attempts, row.releases) == (
        State.SUCCEEDED,
        refusals + 1,
        refusals,
    )
    proxy.cut()


def test_an_operator_can_settle_a_key_that_was_never_sent(
    make_runtime: Callable[..., Runtime], engine: Any, simulator: Simulator
) -> None:
    runtime = with_token(make_runtime())
    store = LedgerStore(engine)
    a_key_in_doubt(engine, "never-sent")
    store.release("never-sent", "old-never-sent:aa", "connection refused")

    settled = store.decide("never-sent", operator_outcome(None, "paid another way"), "by hand")

    assert settled.state is State.FAILED and settled.settled_by == "operator"
    with pytest.raises(PaynetRpcError) as caught:
        like_a_task(runtime, keyed(runtime, "never-sent"), "again")
    assert caught.value.code == SETTLED_NOT_EXECUTED
    assert simulator.stats()["executions"] == {}


def test_the_sweep_settles_an_abandoned_key_that_paynet_executed(
    make_runtime: Callable[..., Runtime], engine: Any, simulator: Simulator
) -> None:
    runtime = with_token(make_runtime())
    done = simulator.state.perform("abandoned-1", 15000)
    a_key_in_doubt(engine, "abandoned-1")  # sent, past its lease, no task left to finish it
    store = LedgerStore(engine)
    (record,) = store.overdue()

    said = reconcile_abandoned(runtime.gateway.keyed, record, timeout=10)

    assert said.startswith("found at Paynet")
    row = store.load("abandoned-1")
    assert row is not None and row.state is State.SUCCEEDED
    assert row.outcome is not None and row.outcome.value["transactionId"] == done["transactionId"]
    assert store.overdue() == []
    assert simulator.stats()["executions"] == {"abandoned-1": 1}  # found, never sent again


def test_the_sweep_leaves_a_key_it_cannot_look_up_unknown_for_an_operator(
    make_runtime: Callable[..., Runtime], engine: Any
) -> None:
    runtime = with_token(make_runtime())
    a_key_in_doubt(engine, "abandoned-2")
    store = LedgerStore(engine)
    (record,) = store.overdue()
    no_status = {**runtime.settings.ledger.status_methods}
    no_status.pop("performTransaction")
    settings = runtime.settings.model_copy(
        update={"ledger": runtime.settings.ledger.model_copy(update={"status_methods": no_status})}
    )
    keyed_calls = runtime.gateway.keyed
    blind = type(keyed_calls)(settings, keyed_calls.sender, keyed_calls.store)

    said = reconcile_abandoned(blind, record, timeout=10)

    assert said.startswith("left unknown")
    row = store.load("abandoned-2")
    assert row is not None and row.state is State.UNKNOWN
    assert [r.key for r in store.stale()] == ["abandoned-2"]  # now the operator's
