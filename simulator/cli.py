"""Run the simulator standalone: `python -m simulator --port 8765`."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from .accounts import DEFAULT_ACCOUNT, Account
from .server import Simulator


def run(host: str, port: int, username: str, password: str, terminal_id: str | int) -> None:
    """Serve one account until SIGINT or SIGTERM; print the URL, never the password."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main_thread:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, _on_signal)
    account = Account(username=username, password=password, terminal_id=terminal_id)
    try:
        with Simulator(host=host, port=port, accounts=[account]) as simulator:
            print(
                f"Paynet simulator listening on {simulator.url} "
                f"(login {simulator.login_url}, user {username}, terminal {terminal_id}); "
                "stop with Ctrl-C",
                flush=True,
            )
            while not stop.wait(0.5):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("Paynet simulator stopped", flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Paynet JSON-RPC simulator for tests and local runs (loopback by default).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free one)")
    parser.add_argument(
        "--username",
        default=os.environ.get("PAYNET_USERNAME", DEFAULT_ACCOUNT.username),
        help="account username (env PAYNET_USERNAME)",
    )
    parser.add_argument(
        "--password",
        default=None,
        help="account password (better: env PAYNET_PASSWORD, which keeps it out of ps)",
    )
    parser.add_argument(
        "--terminal-id",
        default=os.environ.get("PAYNET_TERMINAL_ID", str(DEFAULT_ACCOUNT.terminal_id)),
        help="terminal id (env PAYNET_TERMINAL_ID)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run."""
    args = _parser().parse_args(argv)
    password = args.password or os.environ.get("PAYNET_PASSWORD") or DEFAULT_ACCOUNT.password
    run(args.host, args.port, args.username, password, args.terminal_id)
    return 0
