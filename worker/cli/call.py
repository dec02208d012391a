"""``paynet-gateway call METHOD``: one ``paynet.call`` through the queue, as a producer sends it.

For an operator's spot check or a developer's first try: the task goes through the broker to
whatever workers run, so it exercises the real path (token, lock, waits), not a shortcut. It
needs no Paynet password: the workers log in, the command only names a profile.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

import click

from worker import queues
from worker.calls.reprs import call_repr
from worker.calls.request import parse_call
from worker.cli.common import CommandError, command, timeout_option
from worker.cli.producer import Deadline, outcome, producer, sending, stop_listening
from worker.config import get_operator_settings
from worker.errors import InvalidRequest
from worker.paynet import jsonrpc

EPILOG = (
    "Prints the JSON-RPC result as JSON on standard output and exits 0; prints the error's "
    "class and message on standard error and exits 1 when the task failed, no result came in "
    "time or the broker or result store did not answer; exits 2 on bad input (nothing is "
    "sent). With --no-wait, prints the task id. --timeout bounds the whole command, sending "
    "included."
)


def json_value(_ctx: click.Context, _param: click.Parameter, value: str) -> Any:
    """A JSON document read with exact amounts (``Decimal``, never a float)."""
    try:
        return json.loads(value, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at column {exc.colno})") from None


@command("call", "Enqueue one paynet.call and print its result.", EPILOG)
@click.argument("method", metavar="METHOD")
@click.option(
    "--params", default="{}", callback=json_value, metavar="JSON", show_default=True,
    help="The method's params, a JSON object.",
)  # fmt: skip
@click.option("--profile", default="default", show_default=True, help="The Paynet profile.")
@click.option("--path", default=None, help="Resource path.  [default: the profile's]")
@click.option("--idempotency-key", default=None, help="The payment's own key.")
@click.option(
    "--wait/--no-wait", default=True, help="Wait for the result (default), or print the task id."
)
@timeout_option(60.0, "Seconds for the whole command: sending, and waiting for the result.")
def call(
    method: str,
    params: Any,
    profile: str,
    path: str | None,
    idempotency_key: str | None,
    wait: bool,
    timeout: float,
) -> int:
    """Enqueue one paynet.call and print its result."""
    deadline = Deadline(timeout)
    kwargs = task_kwargs(method, params, profile, path, idempotency_key)
    app = producer(timeout)
    with sending():
        result = app.send_task(
            queues.CALL_TASK, kwargs=kwargs, queue=queues.CALL_QUEUE, kwargsrepr=call_repr(kwargs)
        )
    if not wait:
        stop_listening(result)
        click.echo(result.id)
        return 0
    value = outcome(result, deadline)
    sys.stdout.write(jsonrpc.encode(value).decode("utf-8") + "\n")
    return 0


def task_kwargs(
    method: str, params: Any, profile: str, path: str | None, idempotency_key: str | None
) -> dict[str, Any]:
    """The task's kwargs from the command line; ``CommandError`` on what a worker would refuse."""
    kwargs: dict[str, Any] = {"method": method, "params": params, "profile": profile}
    if path is not None:
        kwargs["path"] = path
    if idempotency_key is not None:
        kwargs["idempotency_key"] = idempotency_key
    try:
        settings = get_operator_settings()
        parse_call(kwargs, settings.paynet.profiles, settings.agent_ids())
    except InvalidRequest as exc:
        raise CommandError(f"invalid request: {exc}") from None
    return kwargs
