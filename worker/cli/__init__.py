"""The ``paynet-gateway`` command: one subcommand module per concept, each registering itself.

Every command exits 0 on success and non-zero with a one-line reason otherwise; a
configuration error names the key and never prints a secret.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from worker.cli import call, db, ledger, simulator, token
from worker.cli.common import CommandError
from worker.config import ConfigError

MODULES = (simulator, db, token, ledger, call)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paynet-gateway",
        description="Celery gateway to the Paynet JSON-RPC API: operate and inspect it.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CommandError as exc:
        print(f"paynet-gateway: {exc}", file=sys.stderr)
        return exc.exit_code
    except ConfigError as exc:
        print(f"paynet-gateway: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
