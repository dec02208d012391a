"""The bootstep that writes the probe files from inside the worker's consumer.

The heartbeat is rewritten by the consumer's own timer, so it stops when the main process's
event loop stops turning (a deadlock, a blocked hub, a consumer reconnecting to the broker),
not merely when the process dies. The ready file exists while the consumer consumes: written
when it starts (after the task queues are subscribed), removed when it stops (a lost broker
connection, a shutdown). ``--probe-dir`` (or ``PAYNET_PROBE_DIR``) turns it on.
"""

from __future__ import annotations

from typing import Any

import click
from celery import Celery, bootsteps

from worker.probes import files


class ProbeFiles(bootsteps.StartStopStep):  # type: ignore[misc]
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, probe_dir: str | None = None, **options: Any) -> None:
        self.directory = files.directory_from(probe_dir)
        self.beat: Any = None
        super().__init__(parent, **options)

    def include_if(self, parent: Any) -> bool:
        return self.directory is not None

    def start(self, parent: Any) -> None:
        assert self.directory is not None  # noqa: S101 - include_if
        files.write(self.directory, files.HEARTBEAT)
        self.beat = parent.timer.call_repeatedly(
            files.BEAT_INTERVAL, files.write, (self.directory, files.HEARTBEAT)
        )
        files.write(self.directory, files.READY)

    def stop(self, parent: Any) -> None:
        if self.directory is not None:
            files.remove(self.directory, files.READY)
        if self.beat is not None:
            self.beat.cancel()
            self.beat = None

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
        if self.directory is not None:
            files.remove(self.directory, files.HEARTBEAT)


def install(app: Celery) -> None:
    """``celery -A worker worker --probe-dir DIR``: the option and the step behind it."""
    app.user_options["worker"].add(
        click.Option(
            ["--probe-dir"],
            envvar=files.DIRECTORY_VARIABLE,
            default=None,
            help="Write liveness and readiness files here (python -m worker.probes reads them).",
        )
    )
    app.steps["consumer"].add(ProbeFiles)
