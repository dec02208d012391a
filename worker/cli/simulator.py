"""``paynet-gateway simulator``: the Paynet simulator, for development and the demo."""

from __future__ import annotations

import click

from worker.cli.common import CommandError, command


@command(
    "simulator",
    "Run the Paynet simulator on loopback.",
    "Serves until Ctrl-C or SIGTERM. The account's password is PAYNET_PASSWORD (the "
    "simulator's built-in one when unset); it is never printed.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=int, default=8765, show_default=True, help="Port (0: any free one).")
@click.option("--username", envvar="PAYNET_USERNAME", help="The account's username.")
@click.option("--terminal-id", envvar="PAYNET_TERMINAL_ID", help="The account's terminal id.")
def simulator(host: str, port: int, username: str | None, terminal_id: str | None) -> int:
    from simulator.cli import main

    argv = ["--host", host, "--port", str(port)]
    if username:
        argv += ["--username", username]
    if terminal_id:
        argv += ["--terminal-id", str(terminal_id)]
    try:
        return main(argv)  # the password comes from PAYNET_PASSWORD, never from argv
    except OSError as exc:
        raise CommandError(f"simulator: cannot listen on {host}:{port}: {exc.strerror}") from None
