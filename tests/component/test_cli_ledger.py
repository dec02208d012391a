"""``paynet-gateway ledger show|list|reconcile|settle``: output, exit codes and what each does to
the rows, against the real database and the simulator."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from simulator import Simulator
from tests.support.payments import payment
from tests.support.workers import REPO_ROOT
from worker.calls.request import parse_call
from worker.config import load_settings
from worker.errors import PaynetRpcError
from worker.ledger.fingerprint import Fingerprint, fingerprint
from worker.ledger.policy import SETTLED_NOT_EXECUTED
from worker.ledger.record import State
from worker.ledger.store import LedgerStore
from worker.paynet import jsonrpc
from worker.runtime import build_runtime
from worker.tokens.refresher import Refreshed

PRINT = Fingerprint("default", "/v2/gw/transaction", "performTransaction", "ab" * 32)


def ledger_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "ledger", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def filled(engine: Engine, gateway_env: dict[str, str]) -> dict[str, str]:
    store = LedgerStore(engine)
    store.open("paid-1", PRINT)
    store.claim("paid-1", "task-1:aa", 30)
    result = jsonrpc.RpcResult({"transactionId": 9, "amount": Decimal("1500.50")})
    store.finish("paid-1", "task-1:aa", result, "answered by Paynet")
    store.open("lost-2", PRINT)
    store.claim("lost-2", "task-2:bb", 30)
    store.mark_unknown("lost-2", "no answer (timeout: read timeout)", owner="task-2:bb")
    return gateway_env


def test_show_prints_the_state_request_attempts_and_exact_outcome(filled: dict[str, str]) -> None:
    shown = ledger_cli(filled, "show", "paid-1")
    assert shown.returncode == 0, shown.stderr
    assert "state:        succeeded" in shown.stdout
    assert "performTransaction at /v2/gw/transaction, profile default" in shown.stdout
    assert "attempts:     1" in shown.stdout
    assert '"amount":1500.50' in shown.stdout


def test_show_of_an_unknown_payment_tells_the_operator_what_to_do(
    filled: dict[str, str],
) -> None:
    shown = ledger_cli(filled, "show", "lost-2")
    assert shown.returncode == 0, shown.stderr
    assert "state:        unknown" in shown.stdout
    assert "read timeout" in shown.stdout
    assert "action:" in shown.stdout and "look it up at Paynet" in shown.stdout
    assert "paynet-gateway ledger settle KEY" in shown.stdout


def test_show_of_a_missing_key_fails_with_a_one_line_reason(filled: dict[str, str]) -> None:
    shown = ledger_cli(filled, "show", "never-seen")
    assert shown.returncode != 0
    assert shown.stderr.strip() == "paynet-gateway: no ledger entry for key 'never-seen'"


def test_list_by_state_shows_only_that_state(filled: dict[str, str]) -> None:
    listed = ledger_cli(filled, "list", "--state", "unknown")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 1
    assert "unknown" in lines[0] and "lost-2" in lines[0] and "attempts=1" in lines[0]
    everything = ledger_cli(filled, "list").stdout
    assert "paid-1" in everything and "lost-2" in everything


def test_list_of_an_empty_state_says_so_and_succeeds(filled: dict[str, str]) -> None:
    listed = ledger_cli(filled, "list", "--state", "failed")
    assert listed.returncode == 0
    assert listed.stdout.strip() == "no ledger entries in state failed"


def test_list_refuses_a_state_that_does_not_exist(filled: dict[str, str]) -> None:
    listed = ledger_cli(filled, "list", "--state", "lost")
    assert listed.returncode == 2
    assert "Invalid value for '--state': 'lost' is not one of 'received'," in listed.stderr


def test_an_unreachable_database_fails_with_a_one_line_reason_naming_it(
    gateway_env: dict[str, str],
) -> None:
    env = {**gateway_env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    shown = ledger_cli(env, "show", "paid-1")
    assert shown.returncode == 1
    assert shown.stderr.startswith(
        "paynet-gateway: cannot read the ledger: database.url (DATABASE_URL) "
        "postgresql+psycopg2://nobody@127.0.0.1:1/none: "
    )
    assert "OperationalError: connection to server at" in shown.stderr
    assert len(shown.stderr.strip().splitlines()) == 1


def test_show_list_and_settle_need_no_paynet_password(
    filled: dict[str, str], engine: Engine
) -> None:
    env = {k: v for k, v in filled.items() if k != "PAYNET_PASSWORD"}
    in_doubt(LedgerStore(engine), "gone-8")
    assert ledger_cli(env, "show", "paid-1").returncode == 0
    assert ledger_cli(env, "list").returncode == 0
    settled = ledger_cli(env, "settle", "gone-8", "--not-executed", "--reason", "bank says no")
    assert settled.returncode == 0, settled.stderr


def in_doubt(store: LedgerStore, key: str, state: State = State.UNKNOWN) -> None:
    """A payment whose answer was lost: sent, past its lease, left ``state``."""
    params = payment(key)["params"]
    made = fingerprint("default", "/v2/gw/transaction", "performTransaction", params)
    store.open(key, made, agent_id=key)
    store.claim(key, f"task-{key}:cc", -1)
    if state is State.UNKNOWN:
        store.mark_unknown(key, "gave up: no definite answer", owner=f"task-{key}:cc")


def test_list_stale_shows_sent_keys_past_their_lease_and_unknown_ones(
    filled: dict[str, str], engine: Engine
) -> None:
    in_doubt(LedgerStore(engine), "overdue-3", State.SENT)
    listed = ledger_cli(filled, "list", "--stale")
    assert listed.returncode == 0, listed.stderr
    keys = [line.split()[2] for line in listed.stdout.strip().splitlines()]
    assert keys == ["lost-2", "overdue-3"]  # oldest first; the finished paid-1 is not stale


def test_reconcile_records_a_payment_found_at_paynet_and_leaves_the_others(
    gateway_env: dict[str, str], engine: Engine, simulator: Simulator
) -> None:
    runtime = build_runtime(load_settings(env=gateway_env), lambda profile, generation: None)
    assert isinstance(runtime.refresher.refresh("default", 0), Refreshed)  # a token to ask with
    runtime.close()
    store = LedgerStore(engine)
    executed = simulator.state.perform("found-4")  # it did execute; the answer was lost
    in_doubt(store, "found-4")
    in_doubt(store, "missing-5")
    cancelled = simulator.state.perform("cancelled-6")
    simulator.state.cancel(cancelled["transactionId"])  # a status the shipped settings cannot judge
    in_doubt(store, "cancelled-6")

    one = ledger_cli(gateway_env, "reconcile", "found-4")
    assert one.returncode == 0, one.stderr
    assert one.stdout.strip() == "found-4: found at Paynet: recorded as succeeded"
    record = store.load("found-4")
    assert record is not None and record.state is State.SUCCEEDED
    assert record.outcome == jsonrpc.RpcResult(executed)  # Paynet's record, as performTransaction's
    every = ledger_cli(gateway_env, "reconcile")
    assert every.returncode == 0, every.stderr
    assert every.stdout.startswith("missing-5: not found")
    assert "left unknown" in every.stdout
    assert "cancelled-6: could not tell (" in every.stdout and "status '-2'" in every.stdout
    left = store.load("cancelled-6")
    assert left is not None and left.state is State.UNKNOWN  # never a guess
    assert simulator.stats()["executions"] == {"found-4": 1, "cancelled-6": 1}  # never sends


def test_settle_records_the_operators_decision_and_no_resubmission_sends_it(
    gateway_env: dict[str, str], engine: Engine, simulator: Simulator
) -> None:
    store = LedgerStore(engine)
    in_doubt(store, "gone-6")
    in_doubt(store, "paid-7")
    refused = ledger_cli(gateway_env, "settle", "gone-6", "--not-executed")
    assert refused.returncode == 2 and "--not-executed needs --reason" in refused.stderr
    both = ledger_cli(gateway_env, "settle", "gone-6", "--not-executed", "--executed", "tx")
    assert both.returncode == 2
    assert (
        ledger_cli(
            gateway_env, "settle", "gone-6", "--not-executed", "--reason", "bank says no"
        ).returncode
        == 0
    )
    assert ledger_cli(gateway_env, "settle", "paid-7", "--executed", "tx-77").returncode == 0
    shown = ledger_cli(gateway_env, "show", "gone-6").stdout
    assert "settled by:   operator" in shown and "bank says no" in shown

    runtime = build_runtime(load_settings(env=gateway_env), lambda profile, generation: None)
    try:
        assert isinstance(runtime.refresher.refresh("default", 0), Refreshed)
        profiles = runtime.settings.paynet.profiles
        paid = runtime.gateway.call(parse_call(payment("paid-7"), profiles))
        assert paid == {"transactionId": "tx-77", "settledBy": "operator"}
        with pytest.raises(PaynetRpcError) as caught:
            runtime.gateway.call(parse_call(payment("gone-6"), profiles))
        assert caught.value.code == SETTLED_NOT_EXECUTED
    finally:
        runtime.close()
    assert simulator.stats()["executions"] == {}
    again = ledger_cli(gateway_env, "settle", "paid-7", "--executed", "tx-78")
    assert again.returncode != 0 and "succeeded" in again.stderr
