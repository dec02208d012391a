"""``paynet-gateway simulator``: the Paynet simulator, for development and the demo."""

from __future__ import annotations

import argparse
import os

from worker.cli.common import CommandError, Subparsers, add_command


def register(subparsers: Subparsers) -> None:
    parser = add_command(subparsers, "simulator", "Run the Paynet simulator on loopback.")
    parser.epilog = (
        "Serves until Ctrl-C or SIGTERM. The account's password is PAYNET_PASSWORD "
        "(the simulator's built-in one when unset); it is never printed."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--username", default=os.environ.get("PAYNET_USERNAME"))
    parser.add_argument(
        "--terminal-id", default=os.environ.get("PAYNET_TERMINAL_ID"), dest="terminal_id"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.cli import main

    argv = ["--host", args.host, "--port", str(args.port)]
    if args.username:
        argv += ["--username", args.username]
    if args.terminal_id:
        argv += ["--terminal-id", str(args.terminal_id)]
    try:
        return main(argv)  # the password comes from PAYNET_PASSWORD, never from argv
    except OSError as exc:
        raise CommandError(
            f"simulator: cannot listen on {args.host}:{args.port}: {exc.strerror}"
        ) from None
