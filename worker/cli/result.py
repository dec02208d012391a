"""``paynet-gateway result TASK_ID``: a task's result, read from the result store.

For the producer that lost its handle, or the operator following up a ``call --no-wait``: the
value as JSON, or the gateway's error (class and message, which never hold a secret). Needs
only the result store's setting.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from celery import states

from worker.cli.common import FAILED, POSITIVE, CommandError, command
from worker.cli.producer import Deadline, failure, outcome, producer, reaching_the_store
from worker.paynet import jsonrpc

READ_TIMEOUT = 10.0  # reading the result store once, when not waiting
EPILOG = (
    "Prints the result as JSON on standard output and exits 0; prints the task's error (class "
    "and message) on standard error and exits 1 when it failed, and exits 1 when it has no "
    "result (yet): still queued or running, unknown, or expired (results are kept "
    "celery.result_expires seconds). With --wait, waits that long for a task not finished yet."
)


@command("result", "Print a task's result, or its error.", EPILOG)
@click.argument("task_id", metavar="TASK_ID")
@click.option(
    "--wait",
    type=POSITIVE,
    default=None,
    metavar="SECONDS",
    help="Wait up to this long for the result.  [default: do not wait]",
)
def result(task_id: str, wait: float | None) -> int:
    app = producer(wait or READ_TIMEOUT)
    handle = app.AsyncResult(task_id)
    value = outcome(handle, Deadline(wait)) if wait else _ready(handle)
    sys.stdout.write(jsonrpc.encode(value).decode("utf-8") + "\n")
    return 0


def _ready(handle: Any) -> Any:
    """The result if the task has finished; what it is doing otherwise, as ``CommandError``."""
    with reaching_the_store():
        state, value = handle.state, handle.result
    if state == states.SUCCESS:
        return value
    if isinstance(value, BaseException) and state in states.PROPAGATE_STATES:
        raise failure(value)
    if state == states.PENDING:
        raise CommandError(f"task {handle.id}: no result: not finished, unknown or expired", FAILED)
    if state in states.READY_STATES:
        raise CommandError(f"task {handle.id}: {state}", FAILED)
    raise CommandError(f"task {handle.id}: {state}, no result yet", FAILED)
