"""What the subcommands share: the one-line error, the group that turns configuration errors into
one, and the database's failures named by their setting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from worker.config import ConfigError, out_of_reach
from worker.settings import Infrastructure

USAGE = 2  # bad input or configuration: nothing was done
FAILED = 1  # the command ran and its job failed (a task error, a timeout, a server that is down)
PROG = "paynet-gateway"
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
POSITIVE = click.FloatRange(min=0, min_open=True)
Decorated = TypeVar("Decorated", bound=Callable[..., Any])


class CommandError(Exception):
    """A command could not do its job; printed as one line, ``paynet-gateway: <reason>``."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Group(click.Group):
    """A group whose commands' configuration errors become one-line reasons, exit 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise CommandError(str(exc)) from None


def group(name: str, help_text: str, **options: Any) -> Callable[[Callable[..., Any]], click.Group]:
    """``@group(...)``: a subcommand group with the shared behaviour and help options."""
    return click.group(name, cls=Group, help=help_text, context_settings=CONTEXT, **options)


def command(
    name: str, help_text: str, epilog: str | None = None
) -> Callable[[Callable[..., Any]], click.Command]:
    return click.command(name, help=help_text, epilog=epilog, context_settings=CONTEXT)


def timeout_option(default: float, what: str) -> Callable[[Decorated], Decorated]:
    return click.option(
        "--timeout",
        type=POSITIVE,
        default=default,
        show_default=True,
        metavar="SECONDS",
        help=what,
    )


@contextmanager
def database_errors(settings: Infrastructure, doing: str) -> Iterator[None]:
    """A database that fails: one line naming the setting and the driver's reason, exit 1."""
    try:
        yield
    except SQLAlchemyError as exc:
        url = settings.database.url
        where = out_of_reach(settings, "database.url", url, exc)
        raise CommandError(f"{doing} failed: {where}", FAILED) from None
