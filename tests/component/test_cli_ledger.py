"""``paynet-gateway ledger show|list``: output and exit codes, against the real database."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from tests.support.workers import REPO_ROOT
from worker.core.clock import utcnow
from worker.ledger.fingerprint import Fingerprint
from worker.ledger.store import LedgerStore
from worker.paynet import jsonrpc

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
    later = utcnow() + timedelta(seconds=30)
    store.open("paid-1", PRINT)
    store.claim("paid-1", "task-1:aa", later)
    result = jsonrpc.RpcResult({"transactionId": 9, "amount": Decimal("1500.50")})
    store.finish("paid-1", "task-1:aa", result, "answered by Paynet")
    store.open("lost-2", PRINT)
    store.claim("lost-2", "task-2:bb", later)
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
    assert "action:" in shown.stdout and "look it up there" in shown.stdout


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
    assert listed.returncode != 0
    assert "invalid choice" in listed.stderr


def test_an_unreachable_database_fails_with_a_one_line_reason(
    gateway_env: dict[str, str],
) -> None:
    env = {**gateway_env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    shown = ledger_cli(env, "show", "paid-1")
    assert shown.returncode != 0
    assert shown.stderr.startswith("paynet-gateway: cannot read the ledger: ")
    assert len(shown.stderr.strip().splitlines()) == 1
