"""``python -m devservices up --dir DIR [--postgres]``: embedded servers for developers.

Prints ``REDIS_URL=...`` and ``DATABASE_URL=...`` once they answer (source
them, or read them from a script) and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

from devservices.postgres_server import PostgresServer
from devservices.redis_server import RedisServer
from devservices.stack import SQLITE_NAME

_POLL_S = 0.5


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devservices", description="Run embedded Redis/PostgreSQL for development."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up", help="start the servers, print their URLs, serve until signalled"
    )
    up.add_argument("--dir", type=Path, required=True, help="working directory (logs, data)")
    up.add_argument(
        "--postgres",
        action="store_true",
        help="also start PostgreSQL (data kept in DIR/postgres); else SQLite in DIR",
    )
    up.add_argument(
        "--redis-port", type=int, default=None, help="fixed Redis port (default: a free one)"
    )
    args = parser.parse_args(argv)
    return up_command(args.dir, postgres=args.postgres, redis_port=args.redis_port)


def up_command(directory: Path, *, postgres: bool, redis_port: int | None = None) -> int:
    """Serve until SIGINT/SIGTERM (exit 0) or until a server dies (exit 1)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        redis_server = stack.enter_context(RedisServer(directory / "redis", port=redis_port))
        pg_server: PostgresServer | None = None
        if postgres:
            pg_server = stack.enter_context(PostgresServer(directory / "postgres"))
            database_url = pg_server.url
        else:
            database_url = f"sqlite:///{directory / SQLITE_NAME}"
        print(f"REDIS_URL={redis_server.url}", flush=True)
        print(f"DATABASE_URL={database_url}", flush=True)
        while not stop.wait(_POLL_S):
            if not redis_server.running or (pg_server is not None and not pg_server.running):
                print("devservices: a server died, stopping", file=sys.stderr, flush=True)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
