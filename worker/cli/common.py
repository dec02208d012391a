"""What the subcommands share: the error type that becomes a one-line reason."""

from __future__ import annotations

import argparse
from typing import Any


class CommandError(Exception):
    """A command could not do its job; the message is printed as the one-line reason."""


Subparsers = Any  # argparse's _SubParsersAction is private


def add_command(subparsers: Subparsers, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help_text, description=help_text
    )
    return parser
