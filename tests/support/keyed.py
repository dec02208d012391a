"""Keyed calls driven in-process as their task would drive them, and ledger rows made by hand."""

from __future__ import annotations

import time
from typing import Any

from tests.support.payments import payment
from worker.calls.request import CallRequest, parse_call
from worker.calls.waits import RetryLater
from worker.ledger.fingerprint import fingerprint
from worker.ledger.store import LedgerStore
from worker.runtime import Runtime
from worker.tokens.refresher import Refreshed


def like_a_task(runtime: Runtime, request: CallRequest, task_id: str) -> Any:
    """Run the call as its task would: every ``RetryLater`` a countdown, then the next run."""
    wait, ledger_wait = None, None
    while True:
        try:
            return runtime.gateway.call(request, wait, ledger_wait, task_id)
        except RetryLater as later:
            time.sleep(later.countdown)
            wait, ledger_wait = later.token, later.ledger


def keyed(runtime: Runtime, key: str) -> CallRequest:
    return parse_call(payment(key), runtime.settings.paynet.profiles)


def with_token(runtime: Runtime) -> Runtime:
    assert isinstance(runtime.refresher.refresh("default", 0), Refreshed)
    return runtime


def a_key_in_doubt(engine: Any, key: str, unknown: bool = False) -> None:
    """A payment sent earlier whose answer was lost, past its lease (or left ``unknown``)."""
    store = LedgerStore(engine)
    made = fingerprint(
        "default", "/v2/gw/transaction", "performTransaction", payment(key)["params"]
    )
    store.open(key, made, agent_id=key)
    store.claim(key, f"old-{key}:aa", -1)
    if unknown:
        store.mark_unknown(key, "gave up: no definite answer", owner=f"old-{key}:aa")
