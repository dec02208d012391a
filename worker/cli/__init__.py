"""The ``paynet-gateway`` command, on click as Celery's own is: one module per concept.

Help (``-h``/``--help`` everywhere), ``--version``, shell completion
(``_PAYNET_GATEWAY_COMPLETE=bash_source paynet-gateway``) and usage errors (exit 2) are click's.
Every other failure is one line, ``paynet-gateway: <reason>``: exit 2 for bad input or
configuration (nothing was done), 1 when the job failed. A configuration error names the key
and never prints a secret; a command reads only the part of the configuration it needs
(``worker/config.py``), so only those that log in to Paynet ask for its password.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import click

from worker.cli import call, db, ledger, probe, result, token
from worker.cli.common import CONTEXT, PROG, CommandError, Group


def _simulator_commands() -> tuple[click.Command, ...]:
    """The simulator's command, where the simulator is installed: a checkout (make setup) has
    it, the image's wheel leaves it out (Dockerfile)."""
    try:
        from worker.cli import simulator
    except ImportError:
        return ()
    return (simulator.simulator,)


COMMANDS = (
    *_simulator_commands(),
    db.db,
    token.token,
    ledger.ledger,
    call.call,
    result.result,
    probe.probe,
)


def package_version() -> str:
    try:
        return version("paynet-gateway")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


@click.group(PROG, cls=Group, context_settings=CONTEXT)
@click.version_option(package_version(), "--version", prog_name=PROG)
def cli() -> None:
    """Celery gateway to the Paynet JSON-RPC API: operate and inspect it."""


for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (the console script and ``python -m worker.cli``)."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None, prog_name=PROG, standalone_mode=False
        )
    except click.ClickException as exc:  # usage errors: click's usage, hint and error lines
        exc.show()
        return exc.exit_code
    except CommandError as exc:
        click.echo(f"{PROG}: {exc}", err=True)
        return exc.exit_code
    except click.Abort:  # Ctrl-C
        return 130
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
