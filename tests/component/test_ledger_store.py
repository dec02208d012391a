"""The ledger store on real PostgreSQL and SQLite: conditional changes, races, lost connections."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, text

from devservices.stack import Services
from worker.db.engine import make_engine
from worker.db.schema import upgrade
from worker.db.tables import ledger
from worker.ledger.fingerprint import Fingerprint
from worker.ledger.record import State
from worker.ledger.store import LedgerStore
from worker.paynet import jsonrpc

PRINT = Fingerprint("default", "/v2/gw/transaction", "performTransaction", "ab" * 32)


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerStore]:
    if request.param == "postgresql":
        engine: Engine = request.getfixturevalue("engine")
        with engine.begin() as conn:
            conn.execute(delete(ledger))
        yield LedgerStore(engine, retry_timeout=5)
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    yield LedgerStore(engine, retry_timeout=5)
    engine.dispose()


LEASE = 30.0  # seconds, in the database's time


def test_opening_a_key_twice_keeps_the_first_row(store: LedgerStore) -> None:
    first = store.open("k1", PRINT)
    other = Fingerprint("default", "/v2/gw/transaction", "performTransaction", "cd" * 32)
    again = store.open("k1", other)
    assert first.state is State.RECEIVED
    assert again.fingerprint == PRINT
    assert again.created_at == first.created_at


def test_of_many_workers_claiming_one_key_exactly_one_wins(store: LedgerStore) -> None:
    keys = [f"race-{i}" for i in range(15)]
    for key in keys:
        store.open(key, PRINT)
    winners: dict[str, list[str]] = {key: [] for key in keys}
    barrier = threading.Barrier(6)

    def contend(worker: int) -> None:
        for key in keys:
            barrier.wait()
            owner = f"task-{worker}:{key}"
            if store.claim(key, owner, LEASE).owner == owner:
                winners[key].append(owner)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(len(won) == 1 for won in winners.values()), winners
    assert all(store.load(key).attempts == 1 for key in keys)  # type: ignore[union-attr]


def test_a_claim_run_again_after_its_commit_was_lost_is_still_judged_won(
    store: LedgerStore,
) -> None:
    store.open("k2", PRINT)
    first = store.claim("k2", "task:a", LEASE)
    again = store.claim("k2", "task:a", LEASE)  # as a retry after a dropped connection would
    assert first.owner == again.owner == "task:a"
    assert again.state is State.SENT
    assert again.attempts == 1


def test_the_sender_records_a_result_with_decimals_exact(store: LedgerStore) -> None:
    store.open("k3", PRINT)
    store.claim("k3", "task:a", LEASE)
    value = {"transactionId": 7, "amount": Decimal("1500.50"), "rate": Decimal("0.000001")}
    record = store.finish("k3", "task:a", jsonrpc.RpcResult(value), "answered")
    assert record.state is State.SUCCEEDED
    assert store.load("k3").outcome == jsonrpc.RpcResult(value)  # type: ignore[union-attr]
    assert str(record.outcome.value["amount"]) == "1500.50"  # type: ignore[union-attr]


def test_an_error_answer_is_recorded_as_failed_with_code_message_and_data(
    store: LedgerStore,
) -> None:
    store.open("k4", PRINT)
    store.claim("k4", "task:a", LEASE)
    error = jsonrpc.RpcError(-31001, "insufficient funds", {"balance": Decimal("0.10")})
    record = store.finish("k4", "task:a", error, "answered")
    assert record.state is State.FAILED
    assert record.outcome == error


def test_a_sender_whose_claim_was_superseded_cannot_record(store: LedgerStore) -> None:
    store.open("k5", PRINT)
    store.claim("k5", "task:old", LEASE)
    store.reopen("k5", attempts=1, detail="status: not found")
    store.claim("k5", "task:new", LEASE)
    late = store.finish("k5", "task:old", jsonrpc.RpcResult({"late": True}), "answered")
    assert late.state is State.SENT
    assert late.owner == "task:new"


def test_a_released_key_can_be_claimed_again(store: LedgerStore) -> None:
    store.open("k6", PRINT)
    store.claim("k6", "task:a", LEASE)
    released = store.release("k6", "task:a", "token rejected (-9999): nothing executed")
    assert released.state is State.RECEIVED
    again = store.claim("k6", "task:b", LEASE)
    assert (again.state, again.owner, again.attempts) == (State.SENT, "task:b", 2)


def test_reconciliation_changes_only_the_attempt_it_looked_at(store: LedgerStore) -> None:
    store.open("k7", PRINT)
    store.claim("k7", "task:a", LEASE)
    store.doubt("k7", "task:a", "read timeout", settle=0.5)
    stale = store.settle("k7", attempts=0, outcome=jsonrpc.RpcResult({}), detail="found")
    assert stale.state is State.SENT
    found = store.settle("k7", attempts=1, outcome=jsonrpc.RpcResult({"id": 1}), detail="found")
    assert found.state is State.SUCCEEDED
    assert found.finished_at is not None


def test_listing_by_state_finds_the_unknown_ones(store: LedgerStore) -> None:
    for key in ("a", "b", "c"):
        store.open(key, PRINT)
        store.claim(key, f"t:{key}", LEASE)
    store.mark_unknown("b", "read timeout", owner="t:b")
    assert [r.key for r in store.list(State.UNKNOWN)] == ["b"]
    assert {r.key for r in store.list()} == {"a", "b", "c"}


def test_a_connection_dropped_by_the_server_is_retried_transparently(
    real_services: Services, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    if real_services.postgres_admin_url is None:
        pytest.skip("needs PostgreSQL")
    fragile = create_engine(engine.url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    store = LedgerStore(fragile, retry_timeout=10)
    store.open("k8", PRINT)
    with engine.connect() as admin:
        killed = admin.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    assert killed and killed >= 1
    record = store.claim("k8", "task:a", LEASE)  # its pooled connection is dead
    assert record.owner == "task:a"
    assert "database fault during claim" in caplog.text
    fragile.dispose()


def test_leases_are_written_in_the_databases_time(store: LedgerStore) -> None:
    store.open("k9", PRINT)
    claimed = store.claim("k9", "task:a", 30)
    assert claimed.sent_at is not None and claimed.check_after is not None
    lease = (claimed.check_after - claimed.sent_at).total_seconds()
    assert lease == pytest.approx(30, abs=0.01)
    assert (
        claimed.seen_at is not None and abs((claimed.seen_at - claimed.sent_at).total_seconds()) < 5
    )
    doubted = store.doubt("k9", "task:a", "read timeout", settle=2)
    assert doubted.state is State.SENT and doubted.check_after is not None
    assert (doubted.check_after - doubted.now).total_seconds() == pytest.approx(2, abs=0.5)


def test_stale_lists_sent_keys_past_their_lease_and_every_unknown_one(store: LedgerStore) -> None:
    for key in ("live", "overdue", "lost"):
        store.open(key, PRINT)
        store.claim(key, f"t:{key}", 30 if key == "live" else -1)
    store.mark_unknown("lost", "gave up", owner="t:lost")
    assert [r.key for r in store.stale()] == ["overdue", "lost"]


def test_an_operators_decision_is_final_and_says_who_made_it(store: LedgerStore) -> None:
    store.open("k10", PRINT)
    store.claim("k10", "t:a", -1)
    store.mark_unknown("k10", "gave up", owner="t:a")
    decided = store.decide("k10", jsonrpc.RpcResult({"transactionId": "tx"}), "settled")
    assert (decided.state, decided.settled_by) == (State.SUCCEEDED, "operator")
    late = store.finish("k10", "t:a", jsonrpc.RpcResult({"late": True}), "answered")
    assert late.outcome == jsonrpc.RpcResult({"transactionId": "tx"})
