"""``paynet-gateway simulator``: the Paynet simulator, for development and the demo.

Without a subcommand it serves; ``revoke``, ``fault``, ``faults`` and ``counters`` steer one that
runs (here or in another process, the ``dev`` compose profile's) through its control interface
under ``/_control/``. None reads the gateway's configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from simulator.control import SimulatorControl, SimulatorControlError
from simulator.faults import FAULT_KINDS, TARGETS
from worker.cli.common import FAILED, CommandError, group
from worker.core.outages import first_line

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8765"


@group(
    "simulator",
    "Run the Paynet simulator on loopback, or steer a running one.",
    invoke_without_command=True,
    epilog=(
        "Without a command: serves until Ctrl-C or SIGTERM. The account's password is "
        "PAYNET_PASSWORD (the simulator's built-in one when unset); it is never printed. The "
        "commands talk to a running simulator at --url (default: PAYNET_BASE_URL, else "
        f"{DEFAULT_URL})."
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=int, default=8765, show_default=True, help="Port (0: any free one).")
@click.option(
    "--username", envvar="PAYNET_USERNAME", show_envvar=True, help="The account's username."
)
@click.option(
    "--terminal-id",
    envvar="PAYNET_TERMINAL_ID",
    show_envvar=True,
    help="The account's terminal id.",
)
@click.pass_context
def simulator(
    ctx: click.Context, host: str, port: int, username: str | None, terminal_id: str | None
) -> int:
    """Run the Paynet simulator on loopback, or steer a running one."""
    if ctx.invoked_subcommand is not None:
        return 0
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


def url_option(command: Callable[..., T]) -> Callable[..., T]:
    return click.option(
        "--url",
        envvar="PAYNET_BASE_URL",
        show_envvar=True,
        default=DEFAULT_URL,
        show_default=True,
        help="The running simulator's base URL.",
    )(command)


@contextmanager
def _control(url: str) -> Iterator[SimulatorControl]:
    """The control client; a simulator that refuses or does not answer is one line, exit 1."""
    try:
        with SimulatorControl(url) as control:
            yield control
    except SimulatorControlError as exc:
        reason = first_line(exc.__cause__) if exc.__cause__ is not None else str(exc)
        raise CommandError(f"simulator at {url}: {reason}", FAILED) from None


@simulator.command("revoke", help="Revoke every valid token (of one user), as Paynet may.")
@click.option("--username", default=None, help="Only this user's tokens.")
@url_option
def revoke(username: str | None, url: str) -> int:
    with _control(url) as control:
        count = control.revoke(username)
    click.echo(f"revoked {count} token(s)")
    return 0


@simulator.command(
    "fault",
    help="Arm a fault for the next requests to the login or to the resources.",
    epilog=(
        "Kinds: down (connection dropped), slow (--delay), http_500 and http_error (--status), "
        "html_200, empty_body, raw (--body, --status, --content-type, --location: a redirect), "
        "truncated_json, wrong_id, refused_credentials and no_token (login only), "
        "execute_then_hang (a payment executes, its answer never comes)."
    ),
)
@click.argument("target", type=click.Choice(TARGETS), metavar="TARGET")
@click.argument("kind", type=click.Choice(sorted(FAULT_KINDS)), metavar="KIND")
@click.option(
    "--count", type=click.IntRange(min=1), help="For this many requests.  [default: until cleared]"
)
@click.option("--delay", type=click.FloatRange(min=0), help="Seconds, for slow faults.")
@click.option("--status", type=click.IntRange(100, 599), help="The HTTP status to answer.")
@click.option("--body", help="The body to answer (raw).")
@click.option("--content-type", help="The content type to answer (raw).")
@click.option("--location", help="A Location header to answer (raw: a redirect).")
@url_option
def fault(target: str, kind: str, url: str, **options: Any) -> int:
    given = {name: value for name, value in options.items() if value is not None}
    with _control(url) as control:
        control.inject_fault(target, kind, **given)
    count = given.get("count")
    click.echo(
        f"armed {kind} on {target} " + (f"for {count} request(s)" if count else "until cleared")
    )
    return 0


@simulator.command("faults", help="List the armed faults; --clear disarms them.")
@click.option("--clear", is_flag=True, help="Disarm every fault.")
@url_option
def faults(clear: bool, url: str) -> int:
    with _control(url) as control:
        if clear:
            click.echo(f"cleared {control.clear_faults()} fault(s)")
            return 0
        armed = control.faults()
    click.echo(json.dumps(armed, indent=2, sort_keys=True))
    return 0


@simulator.command(
    "counters",
    help="What the simulator received: logins, calls by method, rejections, executions.",
    epilog="Tokens appear only as fingerprints.",
)
@url_option
def counters(url: str) -> int:
    with _control(url) as control:
        stats = control.stats()
    click.echo(json.dumps(stats, indent=2, sort_keys=True))
    return 0
