"""The idempotency ledger: one row per key, every state change one conditional UPDATE.

The states and how they change are drawn in ``worker/ledger/record.py``. A claim moves
``received`` to ``sent`` only where the row is still ``received``, so of two workers holding the
same key exactly one sends. Each claim writes a fresh owner nonce; every later change by that
sender is conditional on it, every change by a reconciler on the number of attempts it looked
at. Each method returns the row as it stands after its statement, and callers judge by that row
rather than by a row count: so an operation retried after a dropped connection (which may or
may not have committed) reaches the same verdict.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from worker.core.clock import as_utc
from worker.core.retry import retrying
from worker.db.clock import db_time
from worker.db.tables import ledger
from worker.ledger.fingerprint import Fingerprint
from worker.ledger.record import IN_DOUBT, UNSETTLED, LedgerRecord, State
from worker.paynet import jsonrpc

T = TypeVar("T")


def encode_outcome(outcome: jsonrpc.Answer) -> str:
    """JSON with every Decimal written digit for digit (amounts stay exact)."""
    if isinstance(outcome, jsonrpc.RpcResult):
        return jsonrpc.encode({"result": outcome.value}).decode("utf-8")
    error = {"code": outcome.code, "message": outcome.message, "data": outcome.data}
    return jsonrpc.encode({"error": error}).decode("utf-8")


def decode_outcome(text: str) -> jsonrpc.Answer:
    document = jsonrpc.decode(text.encode("utf-8"))
    if "result" in document:
        return jsonrpc.RpcResult(document["result"])
    error = document["error"]
    return jsonrpc.RpcError(int(error["code"]), str(error["message"]), error.get("data"))


def _record(row: RowMapping) -> LedgerRecord:
    fingerprint = Fingerprint(row["profile"], row["path"], row["method"], row["params_sha256"])
    created, updated = as_utc(row["created_at"]), as_utc(row["updated_at"])
    if created is None or updated is None:  # NOT NULL columns: only a damaged row lacks them
        raise LookupError(f"ledger row {row['idempotency_key']!r} has no creation time")
    return LedgerRecord(
        key=row["idempotency_key"],
        fingerprint=fingerprint,
        state=State(row["state"]),
        outcome=decode_outcome(row["outcome"]) if row["outcome"] is not None else None,
        detail=row["detail"],
        attempts=row["attempts"],
        owner=row["owner"],
        created_at=created,
        updated_at=updated,
        sent_at=as_utc(row["sent_at"]),
        check_after=as_utc(row["check_after"]),
        finished_at=as_utc(row["finished_at"]),
        seen_at=as_utc(row["seen_at"]) or updated,
        settled_by=row["settled_by"],
        agent_id=row["agent_id"],
        releases=row["releases"],
    )


_UNSETTLED_STATES = sorted(state.value for state in UNSETTLED)


# Keys without an outcome, per state: the gauge's one statement.
COUNT_UNSETTLED = (
    select(ledger.c.state, func.count())
    .where(ledger.c.state.in_(_UNSETTLED_STATES))
    .group_by(ledger.c.state)
)


class LedgerStore:
    def __init__(
        self,
        engine: Engine,
        retry_timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.retry_timeout = retry_timeout
        self.sleep = sleep
        self.dialect = engine.dialect.name

    def _now(self, plus: float = 0.0) -> ColumnElement[datetime]:
        return db_time(self.dialect, plus)

    def _run(self, what: str, operation: Callable[[Connection], T]) -> T:
        def attempt() -> T:
            with self.engine.begin() as conn:
                return operation(conn)

        return retrying(attempt, what, self.retry_timeout, self.sleep)

    def _read(self, conn: Connection, key: str) -> LedgerRecord | None:
        query = select(ledger, self._now().label("seen_at")).where(ledger.c.idempotency_key == key)
        row = conn.execute(query).mappings().first()
        return _record(row) if row is not None else None

    def load(self, key: str) -> LedgerRecord | None:
        return self._run(f"reading ledger key {key!r}", lambda conn: self._read(conn, key))

    def open(self, key: str, fingerprint: Fingerprint, agent_id: str | None = None) -> LedgerRecord:
        """The key's row, created as ``received`` if it is new (whoever creates it first)."""
        values = {
            "agent_id": agent_id,
            "idempotency_key": key,
            "profile": fingerprint.profile,
            "path": fingerprint.path,
            "method": fingerprint.method,
            "params_sha256": fingerprint.params_sha256,
            "state": State.RECEIVED.value,
            "attempts": 0,
            "created_at": self._now(),
            "updated_at": self._now(),
        }

        def operation(conn: Connection) -> LedgerRecord:
            created = _insert_if_absent(conn, values, self._now().label("seen_at"))
            if created is not None:
                return _record(created)  # a new key: one statement
            record = self._read(conn, key)
            if record is None:  # inserted, or already there, in this very transaction
                raise LookupError(f"ledger key {key!r} vanished")
            return record

        return self._run(f"opening ledger key {key!r}", operation)

    def _transition(
        self,
        what: str,
        key: str,
        sources: Collection[State],
        values: dict[str, Any],
        owner: str | None = None,
        attempts: int | None = None,
    ) -> LedgerRecord:
        """One conditional UPDATE returning the row; the row as it stands if it did not apply."""
        condition = [
            ledger.c.idempotency_key == key,
            ledger.c.state.in_([state.value for state in sources]),
        ]
        if owner is not None:
            condition.append(ledger.c.owner == owner)
        if attempts is not None:
            condition.append(ledger.c.attempts == attempts)

        def operation(conn: Connection) -> LedgerRecord:
            changed = (
                conn.execute(
                    update(ledger)
                    .where(*condition)
                    .values(updated_at=self._now(), **values)
                    .returning(*ledger.c, self._now().label("seen_at"))
                )
                .mappings()
                .first()
            )
            if changed is not None:
                return _record(changed)
            record = self._read(conn, key)
            if record is None:
                raise LookupError(f"ledger key {key!r} vanished")
            return record

        return self._run(f"{what} of ledger key {key!r}", operation)

    def claim(self, key: str, owner: str, lease: float) -> LedgerRecord:
        """``received`` → ``sent`` for ``owner``, no reconciling for ``lease`` seconds; it won
        where ``record.owner == owner``."""
        values = {
            "state": State.SENT.value,
            "attempts": ledger.c.attempts + 1,
            "owner": owner,
            "sent_at": self._now(),
            "check_after": self._now(lease),
            "detail": None,
        }
        return self._transition("claim", key, {State.RECEIVED}, values)

    def finish(self, key: str, owner: str, outcome: jsonrpc.Answer, detail: str) -> LedgerRecord:
        """The sender records Paynet's answer, unless another claim came after its own."""
        values = self._final(outcome, detail)
        return self._transition("recording the outcome", key, {State.SENT}, values, owner=owner)

    def _final(self, outcome: jsonrpc.Answer, detail: str) -> dict[str, Any]:
        """The columns of a finished payment: Paynet's answer, whoever recorded it."""
        state = State.SUCCEEDED if isinstance(outcome, jsonrpc.RpcResult) else State.FAILED
        return {
            "state": state.value,
            "outcome": encode_outcome(outcome),
            "detail": detail,
            "finished_at": self._now(),
        }

    def release(self, key: str, owner: str, detail: str) -> LedgerRecord:
        """The sender knows nothing reached Paynet: the key may be sent again, and this claim
        does not count against the give-up bound."""
        values = {
            "state": State.RECEIVED.value,
            "detail": detail,
            "check_after": None,
            "releases": ledger.c.releases + 1,
        }
        return self._transition("release", key, {State.SENT}, values, owner=owner)

    def doubt(self, key: str, owner: str, detail: str, settle: float) -> LedgerRecord:
        """The sender got no usable answer: still ``sent``, reconciled after ``settle`` seconds."""
        values = {"detail": detail, "check_after": self._now(settle)}
        return self._transition("marking in doubt", key, {State.SENT}, values, owner=owner)

    def note(self, key: str, attempts: int, detail: str) -> LedgerRecord:
        """What the last reconciliation learned, for operators; the row stays ``sent``."""
        return self._transition("noting", key, {State.SENT}, {"detail": detail}, attempts=attempts)

    def mark_unknown(
        self, key: str, detail: str, owner: str | None = None, attempts: int | None = None
    ) -> LedgerRecord:
        """Whether it executed could not be told: final, never sent again by the gateway."""
        values = {"state": State.UNKNOWN.value, "detail": detail}
        return self._transition(
            "marking unknown", key, IN_DOUBT, values, owner=owner, attempts=attempts
        )

    def settle(self, key: str, attempts: int, outcome: jsonrpc.Answer, detail: str) -> LedgerRecord:
        """Reconciliation found the payment at Paynet: record what the status call returned."""
        values = self._final(outcome, detail)
        return self._transition("settling", key, IN_DOUBT, values, attempts=attempts)

    def reopen(self, key: str, attempts: int, detail: str) -> LedgerRecord:
        """Reconciliation showed it never executed: the key may be sent again."""
        values = {"state": State.RECEIVED.value, "detail": detail, "check_after": None}
        return self._transition("reopening", key, {State.SENT}, values, attempts=attempts)

    def give_up(
        self, key: str, attempts: int, outcome: jsonrpc.RpcError, detail: str
    ) -> LedgerRecord:
        """A ``received`` key that is not to be sent again: its definite failure, final."""
        values = self._final(outcome, detail)
        return self._transition("giving up", key, {State.RECEIVED}, values, attempts=attempts)

    def decide(self, key: str, outcome: jsonrpc.Answer, detail: str) -> LedgerRecord:
        """An operator's decision on any key without an outcome yet (received, sent or
        unknown): final, whatever a task does after it."""
        values = {**self._final(outcome, detail), "settled_by": "operator"}
        return self._transition("settling by an operator", key, UNSETTLED, values)

    def list(self, state: State | None = None, limit: int = 100) -> list[LedgerRecord]:
        """Most recently changed first."""
        query = select(ledger, self._now().label("seen_at"))
        query = query.order_by(ledger.c.updated_at.desc()).limit(limit)
        if state is not None:
            query = query.where(ledger.c.state == state.value)

        def operation(conn: Connection) -> list[LedgerRecord]:
            return [_record(row) for row in conn.execute(query).mappings()]

        return self._run("listing the ledger", operation)

    def count_unsettled(self) -> dict[str, int]:
        """Keys without an outcome, per state, each such state named (0 where none): what the
        metrics gauge shows. Through the (state, updated_at) index, so it reads those rows
        only, never the finished ones, whatever the size of the ledger."""
        with self.engine.connect() as conn:
            found = {state: int(n) for state, n in conn.execute(COUNT_UNSETTLED)}
        return {state: found.get(state, 0) for state in _UNSETTLED_STATES}

    def prune(self, retention: float, batch: int) -> int:
        """Delete up to ``batch`` finished keys (succeeded or failed) last changed more than
        ``retention`` seconds ago; how many. A key without an outcome is never deleted."""
        finished = [State.SUCCEEDED.value, State.FAILED.value]
        oldest = (
            select(ledger.c.idempotency_key)
            .where(ledger.c.state.in_(finished), ledger.c.updated_at < self._now(-retention))
            .limit(batch)
        )
        statement = delete(ledger).where(
            ledger.c.idempotency_key.in_(oldest),
            ledger.c.state.in_(finished),
        )
        return self._run("pruning the ledger", lambda conn: conn.execute(statement).rowcount)

    def stale(self, limit: int = 100) -> builtins.list[LedgerRecord]:
        """What needs a look: ``sent`` rows past their lease (what the workers' sweep
        reconciles), and every ``unknown`` row (what an operator decides), oldest first."""
        unknown = ledger.c.state == State.UNKNOWN.value
        return self._select("listing stale ledger keys", self._overdue() | unknown, limit)

    def overdue(self, limit: int = 100) -> builtins.list[LedgerRecord]:
        """``sent`` rows past their lease, oldest first: the sweep's share of ``stale``."""
        return self._select("listing overdue ledger keys", self._overdue(), limit)

    def _overdue(self) -> ColumnElement[bool]:
        return (ledger.c.state == State.SENT.value) & (ledger.c.check_after < self._now())

    def _select(
        self, what: str, condition: ColumnElement[bool], limit: int
    ) -> builtins.list[LedgerRecord]:
        query = select(ledger, self._now().label("seen_at")).where(condition)
        query = query.order_by(ledger.c.updated_at).limit(limit)

        def operation(conn: Connection) -> list[LedgerRecord]:
            return [_record(row) for row in conn.execute(query).mappings()]

        return self._run(what, operation)


def _insert_if_absent(
    conn: Connection, values: dict[str, Any], seen_at: ColumnElement[datetime]
) -> RowMapping | None:
    """INSERT ... ON CONFLICT DO NOTHING where the dialect has it (the new row, returned), a
    savepoint elsewhere (None: read it)."""
    name = conn.dialect.name
    if name in ("postgresql", "sqlite"):
        dialect_insert = postgresql.insert if name == "postgresql" else sqlite.insert
        statement = (
            dialect_insert(ledger)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(*ledger.c, seen_at)
        )
        return conn.execute(statement).mappings().first()
    try:
        with conn.begin_nested():
            conn.execute(insert(ledger).values(**values))
    except IntegrityError:
        pass
    return None
