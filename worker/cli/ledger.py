"""``paynet-gateway ledger show|list|reconcile|settle``: the idempotency ledger.

What an operator needs for a payment the gateway could not settle by itself: what was asked,
how often it was sent, what the gateway last learned, and when (``show``, ``list --stale``);
asking Paynet's status method now (``reconcile``); and recording the operator's own decision
(``settle``), after which no task sends the key again. No token is ever in the ledger.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from worker.cli.common import FAILED, CommandError, Subparsers, add_command
from worker.config import get_settings
from worker.core.outages import Unavailable
from worker.db.engine import make_engine
from worker.errors import PaynetGatewayError
from worker.ledger.policy import operator_outcome
from worker.ledger.record import IN_DOUBT, LedgerRecord, State
from worker.ledger.store import LedgerStore, encode_outcome

T = TypeVar("T")

UNKNOWN_ADVICE = (
    "the payment may have executed at Paynet and could not be reconciled: ask again with "
    "'paynet-gateway ledger reconcile KEY', or look it up at Paynet by its own id and record what "
    "you find with 'paynet-gateway ledger settle KEY --executed ID | --not-executed --reason ...'"
)


def register(subparsers: Subparsers) -> None:
    ledger = add_command(subparsers, "ledger", "Inspect the idempotency ledger.")
    actions = ledger.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = add_command(actions, "show", "One key: state, request, attempts, times, outcome.")
    show.add_argument("key", help="the idempotency key")
    show.set_defaults(handler=run_show)
    listing = add_command(actions, "list", "Keys, most recently changed first.")
    listing.add_argument("--state", choices=[state.value for state in State])
    listing.add_argument(
        "--stale",
        action="store_true",
        help="only what needs a look: sent keys past their lease, and unknown keys (oldest first)",
    )
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    listing.set_defaults(handler=run_list)
    reconcile = add_command(
        actions, "reconcile", "Ask Paynet's status method now, for one key or every stale one."
    )
    reconcile.add_argument("key", nargs="?", help="the idempotency key (default: every stale one)")
    reconcile.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for a token (default 30)"
    )
    reconcile.epilog = (
        "A key found at Paynet is recorded as it is found (succeeded, or failed in a state that "
        "is not a success); any other answer is printed and the key left as it is."
    )
    reconcile.set_defaults(handler=run_reconcile)
    settle = add_command(actions, "settle", "Record an operator's decision on a key in doubt.")
    settle.add_argument("key", help="the idempotency key")
    decision = settle.add_mutually_exclusive_group(required=True)
    decision.add_argument("--executed", metavar="TRANSACTION_ID", help="it executed at Paynet")
    decision.add_argument("--not-executed", action="store_true", help="it did not execute")
    settle.add_argument("--reason", help="why (required with --not-executed)")
    settle.epilog = (
        "Only a sent or unknown key, and not while a task may still be sending it. Resubmissions "
        "get the decision: the transaction id, or an error telling them to use a new key."
    )
    settle.set_defaults(handler=run_settle)


def _with_store(action: Callable[[LedgerStore], T]) -> T:
    engine = make_engine(get_settings().database.url)
    # A command answers in one line: its own retries of a dropped connection stay quiet.
    logging.getLogger("worker.database").disabled = True
    try:
        return action(LedgerStore(engine, retry_timeout=3))
    except CommandError:
        raise
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
        f"agent id:     {record.agent_id or '-'}",
        f"settled by:   {record.settled_by or '-'}",
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
    if args.stale and args.state:
        raise CommandError("--stale and --state: choose one")
    state = State(args.state) if args.state else None
    if args.stale:
        records = _with_store(lambda store: store.stale(args.limit))
        if not records:
            print("no stale ledger entries")
            return 0
    else:
        records = _with_store(lambda store: store.list(state, args.limit))
    for record in records:
        print(
            f"{_when(record.updated_at)}  {record.state.value:<9}  {record.key}  "
            f"{record.fingerprint.method}  attempts={record.attempts}  {record.detail or ''}"
        )
    if not records:
        print(f"no ledger entries{f' in state {state}' if state else ''}")
    return 0


def run_reconcile(args: argparse.Namespace) -> int:
    """Every line: the key and what Paynet's status method said of it."""
    from worker import lifecycle
    from worker.calls.reconcile import reconcile_now
    from worker.celery import app

    runtime = lifecycle.default_factory(app)()
    logging.getLogger("worker.database").disabled = True
    try:
        store = runtime.gateway.keyed.store
        if args.key is not None:
            found = store.load(args.key)
            if found is None:
                raise CommandError(f"no ledger entry for key {args.key!r}")
            records = [found]
        else:
            records = store.stale()
        for record in records:
            said = reconcile_now(runtime.gateway.keyed, record, args.timeout)
            print(f"{record.key}: {said}")
        if not records:
            print("no stale ledger entries")
    except (Unavailable, TimeoutError, PaynetGatewayError) as exc:
        raise CommandError(f"cannot reconcile: {exc}", FAILED) from None
    finally:
        runtime.close()
    return 0


def run_settle(args: argparse.Namespace) -> int:
    if args.not_executed and not args.reason:
        raise CommandError("--not-executed needs --reason: say why you know it did not execute")
    outcome = operator_outcome(args.executed, args.reason)
    decided = f"executed as {args.executed}" if args.executed else "not executed"
    detail = f"settled by an operator: {decided}"
    if args.reason:
        detail += f" ({args.reason})"

    def decide(store: LedgerStore) -> LedgerRecord:
        record = store.load(args.key)
        if record is None:
            raise CommandError(f"no ledger entry for key {args.key!r}")
        if record.state not in IN_DOUBT:
            raise CommandError(f"key {args.key!r} is {record.state}: only a sent or unknown key")
        if record.state is State.SENT and record.check_after and record.check_after > record.now:
            raise CommandError(
                f"key {args.key!r} may be at Paynet right now (its lease ends "
                f"{_when(record.check_after)}): settle it after that"
            )
        return store.decide(args.key, outcome, detail)

    record = _with_store(decide)
    print(f"{record.key}: {record.state} ({record.detail})")
    return 0
