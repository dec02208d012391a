"""``paynet-gateway call METHOD``: one ``paynet.call`` through the queue, as a producer sends it.

For an operator's spot check or a developer's first try: the task goes through the broker to
whatever workers run, so it exercises the real path (token, lock, waits), not a shortcut.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from decimal import Decimal
from typing import Any

from worker import queues
from worker.calls.reprs import call_repr
from worker.calls.request import parse_call
from worker.cli.common import FAILED, CommandError, Subparsers, add_command
from worker.config import get_settings
from worker.errors import InvalidRequest
from worker.paynet import jsonrpc

EPILOG = (
    "Prints the JSON-RPC result as JSON on standard output and exits 0; prints the error's "
    "class and message on standard error and exits 1 when the task failed or no result came "
    "in time; exits 2 on bad input (nothing is sent). With --no-wait, prints the task id."
)


def register(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "call", "Enqueue one paynet.call and print its result.")
    parser.epilog = EPILOG
    parser.add_argument("method", metavar="METHOD", help="the JSON-RPC method, e.g. echo")
    parser.add_argument("--params", default="{}", help="a JSON object (default: {})")
    parser.add_argument("--profile", default="default", help="Paynet profile (default: default)")
    parser.add_argument("--path", default=None, help="resource path (default: the profile's)")
    parser.add_argument(
        "--idempotency-key", dest="idempotency_key", default=None, help="the payment's own key"
    )
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait for the result (default) or print the task id and return",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the result (default 60)"
    )
    parser.set_defaults(handler=run)


def task_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The task's kwargs from the command line; ``CommandError`` on what a worker would refuse."""
    try:
        params = json.loads(args.params, parse_float=Decimal)  # amounts stay exact
    except json.JSONDecodeError as exc:
        raise CommandError(f"--params: not valid JSON ({exc.msg} at column {exc.colno})") from None
    kwargs: dict[str, Any] = {"method": args.method, "params": params, "profile": args.profile}
    if args.path is not None:
        kwargs["path"] = args.path
    if args.idempotency_key is not None:
        kwargs["idempotency_key"] = args.idempotency_key
    try:
        settings = get_settings()
        parse_call(kwargs, settings.paynet.profiles, settings.agent_ids())
    except InvalidRequest as exc:
        raise CommandError(f"invalid request: {exc}") from None
    return kwargs


def run(args: argparse.Namespace) -> int:
    if args.timeout <= 0:
        raise CommandError("--timeout: must be positive")
    kwargs = task_kwargs(args)
    result = _send(kwargs)
    if not args.wait:
        _stop_listening(result)
        print(result.id)
        return 0
    value = _wait(result, args.timeout)
    sys.stdout.write(jsonrpc.encode(value).decode("utf-8") + "\n")
    return 0


def _send(kwargs: dict[str, Any]) -> Any:
    from kombu.utils.url import maybe_sanitize_url

    from worker.celery import app

    try:
        return app.send_task(
            queues.CALL_TASK, kwargs=kwargs, queue=queues.CALL_QUEUE, kwargsrepr=call_repr(kwargs)
        )
    except Exception as exc:  # kombu's OperationalError, or the result store's reconnect error
        broker = maybe_sanitize_url(str(app.conf.broker_url))
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CommandError(
            f"cannot enqueue through {broker} (broker and result store): {reason}", FAILED
        ) from None


def _wait(result: Any, timeout: float) -> Any:
    from celery.exceptions import TimeoutError as ResultTimeout

    try:
        return result.get(timeout=timeout, propagate=True)
    except ResultTimeout:
        _stop_listening(result)
        raise CommandError(
            f"no result within {timeout:g} s (is a worker running?); task id {result.id}", FAILED
        ) from None
    except Exception as exc:  # the task's own error, rebuilt from the result backend
        raise CommandError(f"{type(exc).__name__}: {exc}", FAILED) from None


def _stop_listening(result: Any) -> None:
    """Unsubscribe from a result not waited for now, not at exit when Python is shutting down."""
    with contextlib.suppress(Exception):
        result.backend.remove_pending_result(result)
