"""``paynet-gateway ledger show KEY`` and ``ledger list [--state S]``: the idempotency ledger.

What an operator needs for a payment whose outcome is ``unknown``: what was asked, how often it
was sent, what the gateway last learned, and when. No token is ever in the ledger.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from worker.cli.common import CommandError, Subparsers, add_command
from worker.config import get_settings
from worker.core.outages import Unavailable
from worker.db.engine import make_engine
from worker.ledger.record import LedgerRecord, State
from worker.ledger.store import LedgerStore, encode_outcome

T = TypeVar("T")

UNKNOWN_ADVICE = (
    "the payment may have executed at Paynet and could not be reconciled: look it up there by "
    "its own id; if it did not execute, send it again under a new idempotency key"
)


def register(subparsers: Subparsers) -> None:
    ledger = add_command(subparsers, "ledger", "Inspect the idempotency ledger.")
    actions = ledger.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = add_command(actions, "show", "One key: state, request, attempts, times, outcome.")
    show.add_argument("key", help="the idempotency key")
    show.set_defaults(handler=run_show)
    listing = add_command(actions, "list", "Keys, most recently changed first.")
    listing.add_argument("--state", choices=[state.value for state in State])
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    listing.set_defaults(handler=run_list)


def _with_store(action: Callable[[LedgerStore], T]) -> T:
    engine = make_engine(get_settings().database.url)
    # A command answers in one line: its own retries of a dropped connection stay quiet.
    logging.getLogger("worker.database").disabled = True
    try:
        return action(LedgerStore(engine, retry_timeout=3))
    except Unavailable as exc:
        raise CommandError(f"cannot read the ledger: {exc.detail}") from None
    except Exception as exc:
        raise CommandError(
            f"cannot read the ledger ({type(exc).__name__}); is the database reachable and its "
            "schema current (paynet-gateway db status)?"
        ) from None
    finally:
        engine.dispose()


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="milliseconds") if value else "-"


def describe(record: LedgerRecord) -> list[str]:
    asked = record.fingerprint
    lines = [
        f"key:          {record.key}",
        f"state:        {record.state}",
        f"request:      {asked.method} at {asked.path}, profile {asked.profile}",
        f"params:       sha256 {asked.params_sha256}",
        f"attempts:     {record.attempts}",
        f"owner:        {record.owner or '-'}",
        f"created:      {_when(record.created_at)}",
        f"sent:         {_when(record.sent_at)}",
        f"check after:  {_when(record.check_after)}",
        f"updated:      {_when(record.updated_at)}",
        f"finished:     {_when(record.finished_at)}",
        f"detail:       {record.detail or '-'}",
        f"outcome:      {encode_outcome(record.outcome) if record.outcome else '-'}",
    ]
    if record.state is State.UNKNOWN:
        lines.append(f"action:       {UNKNOWN_ADVICE}")
    return lines


def run_show(args: argparse.Namespace) -> int:
    record = _with_store(lambda store: store.load(args.key))
    if record is None:
        raise CommandError(f"no ledger entry for key {args.key!r}")
    print("\n".join(describe(record)))
    return 0


def run_list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CommandError("--limit must be at least 1")
    state = State(args.state) if args.state else None
    records = _with_store(lambda store: store.list(state, args.limit))
    for record in records:
        print(
            f"{_when(record.updated_at)}  {record.state.value:<9}  {record.key}  "
            f"{record.fingerprint.method}  attempts={record.attempts}  {record.detail or ''}"
        )
    if not records:
        print(f"no ledger entries{f' in state {state}' if state else ''}")
    return 0
