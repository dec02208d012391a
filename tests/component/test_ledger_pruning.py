"""Finished ledger keys past their retention are deleted, keys in doubt never; the gauge's count
reads the unfinished rows only, whatever the size of the ledger."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, text

from tasks.ledger import prune
from tests.support.ledger_rows import row
from worker.db.tables import ledger
from worker.ledger.store import COUNT_UNSETTLED, LedgerStore

DAY = 86400.0


@pytest.fixture
def empty_ledger(engine: Engine) -> Iterator[Engine]:
    with engine.begin() as conn:
        conn.execute(delete(ledger))
    yield engine
    with engine.begin() as conn:
        conn.execute(delete(ledger))


def keys(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(ledger.c.idempotency_key)).scalars())


def test_the_sweep_deletes_old_finished_keys_in_batches_and_keeps_every_key_in_doubt(
    empty_ledger: Engine,
) -> None:
    old = [row(f"old-{state}-{n}", state, 40) for state in ("succeeded", "failed") for n in (1, 2)]
    kept = [row(f"old-{state}", state, 40) for state in ("received", "sent", "unknown")]
    kept += [row("new-succeeded", "succeeded", 1), row("new-failed", "failed", 1)]
    with empty_ledger.begin() as conn:
        conn.execute(insert(ledger), old + kept)
    store = LedgerStore(empty_ledger, retry_timeout=5)
    assert prune(store, 30 * DAY, time.monotonic() + 30, batch=3) == 4  # batches of 3 and 1
    assert keys(empty_ledger) == {item["idempotency_key"] for item in kept}


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def test_the_gauge_reads_the_unfinished_rows_only_not_the_whole_ledger(
    empty_ledger: Engine,
) -> None:
    if empty_ledger.dialect.name != "postgresql":
        pytest.skip("reads PostgreSQL's plan")
    finished = [row(f"done-{n}", "succeeded" if n % 3 else "failed", 2) for n in range(3000)]
    unfinished = [row("in-doubt", "sent", 0), row("asks", "unknown", 0), row("new", "received", 0)]
    with empty_ledger.begin() as conn:
        conn.execute(insert(ledger), finished + unfinished)
        conn.execute(text("ANALYZE paynet_ledger"))
    assert LedgerStore(empty_ledger).count_unsettled() == {"received": 1, "sent": 1, "unknown": 1}
    statement = str(COUNT_UNSETTLED.compile(empty_ledger, compile_kwargs={"literal_binds": True}))
    with empty_ledger.connect() as conn:
        explained = conn.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}")).scalar_one()
    nodes = list(plan_nodes(explained[0]["Plan"]))
    scans = [node for node in nodes if node["Node Type"].endswith("Scan")]
    assert not [node for node in scans if node["Node Type"] == "Seq Scan"], nodes
    # The 3 rows, and perhaps index entries of rows earlier tests deleted: never the 3,000.
    assert max(node["Actual Rows"] for node in scans) < 100, nodes
