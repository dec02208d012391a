"""What the subcommands share: the error type that becomes a one-line reason."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

USAGE = 2  # bad input or configuration: nothing was done
FAILED = 1  # the command ran and its job failed (a task error, a timeout)


class CommandError(Exception):
    """A command could not do its job; the message is printed as the one-line reason."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


Subparsers = Any  # argparse's _SubParsersAction is private


def add_command(subparsers: Subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help_text, description=help_text
    )
    return parser


@contextmanager
def database_errors(url: str, doing: str) -> Iterator[None]:
    """Turn a database failure into a one-line reason naming the database (password hidden)."""
    try:
        yield
    except SQLAlchemyError as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        where = make_url(url).render_as_string(hide_password=True)
        reason = f"{type(cause).__name__}: {first}" if first else type(cause).__name__
        raise CommandError(f"{doing} failed on {where}: {reason}", FAILED) from None
