"""``paynet-gateway probe live|ready``: is the worker whose probe files are in DIR alive, ready?

The same check as ``python -m worker.probes`` (which Kubernetes and the image run, because it
starts faster): it reads the files the worker writes (``--probe-dir``), never the broker.
"""

from __future__ import annotations

import click

from worker.cli.common import FAILED, CommandError, command
from worker.probes.files import DIRECTORY_VARIABLE, MAX_AGE, check, directory_from


@command(
    "probe",
    "Tell whether the worker is alive (its event loop turns) or ready (it consumes).",
    epilog="Exits 0 when it is, 1 when it is not; reads the files of celery worker --probe-dir.",
)
@click.argument("kind", type=click.Choice(["live", "ready"]))
@click.option("--dir", "directory", metavar="DIR", help=f"Default: ${DIRECTORY_VARIABLE}.")
@click.option(
    "--max-age",
    type=click.FloatRange(min=0, min_open=True),
    default=MAX_AGE,
    show_default=True,
    metavar="SECONDS",
    help="A heartbeat older than this means a stuck worker.",
)
def probe(kind: str, directory: str | None, max_age: float) -> int:
    found = directory_from(directory)
    if found is None:
        raise CommandError(f"probe: no directory: pass --dir or set {DIRECTORY_VARIABLE}")
    verdict = check("live" if kind == "live" else "ready", found, max_age)
    if not verdict.ok:
        raise CommandError(f"probe {kind}: {verdict.reason}", FAILED)
    click.echo(f"probe {kind}: {verdict.reason}")
    return 0
