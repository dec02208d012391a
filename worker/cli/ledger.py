"""``paynet-gateway ledger show|list|reconcile|settle``: the idempotency ledger.

What an operator needs for a payment the gateway could not settle by itself: what was asked,
how often it was sent, what the gateway last learned, and when (``show``, ``list --stale``);
asking Paynet's status method now (``reconcile``); and recording the operator's own decision
(``settle``), after which no task sends the key again. No token is ever in the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import click

from worker.cli.common import FAILED, POSITIVE, CommandError, group
from worker.config import get_infrastructure, shown_url
from worker.core.outages import Unavailable
from worker.errors import PaynetGatewayError
from worker.ledger.policy import operator_outcome
from worker.ledger.record import UNSETTLED, LedgerRecord, State
from worker.ledger.store import LedgerStore, encode_outcome
from worker.lifecycle import open_database

T = TypeVar("T")

UNKNOWN_ADVICE = (
    "the payment may have executed at Paynet and could not be reconciled: ask again with "
    "'paynet-gateway ledger reconcile KEY', or look it up at Paynet by its own id and record what "
    "you find with 'paynet-gateway ledger settle KEY --executed ID | --not-executed --reason ...'"
)


@group("ledger", "Inspect the idempotency ledger.")
def ledger() -> None:
    """Inspect the idempotency ledger."""


def _with_store(action: Callable[[LedgerStore], T]) -> T:
    """The ledger's store, needing only ``database.url``; its outage one line naming it."""
    settings = get_infrastructure()
    engine = open_database(settings)
    # A command answers in one line: its own retries of a dropped connection stay quiet.
    logging.getLogger("worker.database").disabled = True
    try:
        return action(LedgerStore(engine, retry_timeout=3))
    except CommandError:
        raise
    except Unavailable as exc:
        where = f"{settings.named('database.url')} {shown_url(settings.database.url)}"
        raise CommandError(f"cannot read the ledger: {where}: {exc.detail}", FAILED) from None
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


@ledger.command("show", help="One key: state, request, attempts, times, outcome.")
@click.argument("key")
def run_show(key: str) -> int:
    record = _with_store(lambda store: store.load(key))
    if record is None:
        raise CommandError(f"no ledger entry for key {key!r}")
    click.echo("\n".join(describe(record)))
    return 0


@ledger.command("list", help="Keys, most recently changed first.")
@click.option(
    "--state", type=click.Choice([state.value for state in State]), help="Only this state."
)
@click.option(
    "--stale",
    is_flag=True,
    help="Only what needs a look: sent keys past their lease, and unknown keys (oldest first).",
)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
def run_list(state: str | None, stale: bool, limit: int) -> int:
    if stale and state:
        raise click.UsageError("--stale and --state: choose one")
    wanted = State(state) if state else None
    if stale:
        records = _with_store(lambda store: store.stale(limit))
        if not records:
            click.echo("no stale ledger entries")
            return 0
    else:
        records = _with_store(lambda store: store.list(wanted, limit))
    for record in records:
        click.echo(
            f"{_when(record.updated_at)}  {record.state.value:<9}  {record.key}  "
            f"{record.fingerprint.method}  attempts={record.attempts}  {record.detail or ''}"
        )
    if not records:
        click.echo(f"no ledger entries{f' in state {wanted}' if wanted else ''}")
    return 0


@ledger.command(
    "reconcile",
    help="Ask Paynet's status method now, for one key or every stale one.",
    epilog=(
        "A key found at Paynet is recorded as it is found (succeeded, or failed in a state that "
        "is not a success); any other answer is printed and the key left as it is. Logs in to "
        "Paynet when no token is stored: needs the whole configuration, PAYNET_PASSWORD too."
    ),
)
@click.argument("key", required=False)
@click.option(
    "--timeout", type=POSITIVE, default=30.0, show_default=True, help="Seconds to wait for a token."
)
def run_reconcile(key: str | None, timeout: float) -> int:
    """Every line: the key and what Paynet's status method said of it."""
    from worker import lifecycle
    from worker.calls.reconcile import reconcile_now
    from worker.celery import app

    runtime = lifecycle.default_factory(app)()
    logging.getLogger("worker.database").disabled = True
    try:
        store = runtime.gateway.keyed.store
        if key is not None:
            found = store.load(key)
            if found is None:
                raise CommandError(f"no ledger entry for key {key!r}")
            records = [found]
        else:
            records = store.stale()
        for record in records:
            said = reconcile_now(runtime.gateway.keyed, record, timeout)
            click.echo(f"{record.key}: {said}")
        if not records:
            click.echo("no stale ledger entries")
    except (Unavailable, TimeoutError, PaynetGatewayError) as exc:
        raise CommandError(f"cannot reconcile: {exc}", FAILED) from None
    finally:
        runtime.close()
    return 0


@ledger.command(
    "settle",
    help="Record an operator's decision on a key that has no outcome yet.",
    epilog=(
        "Any received, sent or unknown key, but not while a task may still be sending it. "
        "Resubmissions get the decision: the transaction id, or an error telling them to use a "
        "new key."
    ),
)
@click.argument("key")
@click.option("--executed", metavar="TRANSACTION_ID", help="It executed at Paynet, as this.")
@click.option("--not-executed", is_flag=True, help="It did not execute (needs --reason).")
@click.option("--reason", help="Why (required with --not-executed).")
def run_settle(key: str, executed: str | None, not_executed: bool, reason: str | None) -> int:
    if bool(executed) == not_executed:
        raise click.UsageError("give one of --executed TRANSACTION_ID and --not-executed")
    if not_executed and not reason:
        raise click.UsageError("--not-executed needs --reason: say why you know it did not execute")
    outcome = operator_outcome(executed, reason)
    decided = f"executed as {executed}" if executed else "not executed"
    detail = f"settled by an operator: {decided}"
    if reason:
        detail += f" ({reason})"

    def decide(store: LedgerStore) -> LedgerRecord:
        record = store.load(key)
        if record is None:
            raise CommandError(f"no ledger entry for key {key!r}")
        if record.state not in UNSETTLED:
            raise CommandError(f"key {key!r} is {record.state} already: its outcome is recorded")
        if record.state is State.SENT and record.check_after and record.check_after > record.now:
            raise CommandError(
                f"key {key!r} may be at Paynet right now (its lease ends "
                f"{_when(record.check_after)}): settle it after that"
            )
        return store.decide(key, outcome, detail)

    record = _with_store(decide)
    click.echo(f"{record.key}: {record.state} ({record.detail})")
    return 0
