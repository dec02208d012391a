"""Child processes the demo owns: run to completion, or serve until stopped, never left behind.

Each long-lived child gets a session of its own, so a Ctrl-C in the terminal reaches the demo
alone and the demo stops its children in order; and it is told to stop should the demo itself
die (``PR_SET_PDEATHSIG``), so even a SIGKILLed demo leaves nothing running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from devservices.parent_death import parent_death_hook

REPO_ROOT = Path(__file__).resolve().parent.parent


class DemoError(Exception):
    """A step of the demo failed; the message says which and where to look."""


def run_cli(args: list[str], env: Mapping[str, str], timeout: float = 60.0) -> str:
    """Run ``paynet-gateway ARGS`` (as ``python -m worker.cli``) to completion; its output."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module, an argument list, no shell
        [sys.executable, "-m", "worker.cli", *args],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DemoError(f"paynet-gateway {' '.join(args)} exited {done.returncode}: {reason}")
    return done.stdout.strip()


class Worker:
    """One ``celery -A worker worker`` process (and its pool children, in its process group)."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.log_path = log
        with log.open("ab") as output:
            self.popen = subprocess.Popen(  # noqa: S603 - the demo's own argument list, no shell
                argv,
                cwd=REPO_ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=parent_death_hook(),
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def ready(self) -> bool:
        if self.popen.poll() is not None:
            tail = "\n".join(self.log().splitlines()[-5:])
            raise DemoError(f"worker {self.name} exited with {self.popen.returncode}:\n{tail}")
        return " ready." in self.log()

    def terminate(self) -> None:
        """Ask for a warm shutdown: running tasks finish, then the pool stops."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)

    def reap(self, timeout: float) -> None:
        """Wait for the shutdown; SIGKILL the whole group if it takes too long or left anyone."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


class WorkerGroup:
    """Several worker processes on one broker, as several hosts would run them."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.workers: list[Worker] = []

    def start(self, env: Mapping[str, str], concurrency: int) -> Worker:
        name = f"worker-{len(self.workers) + 1}"
        argv = [
            sys.executable, "-m", "celery", "-A", "worker", "worker",
            "--concurrency", str(concurrency), "--hostname", f"{name}@%h",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        worker = Worker(name, argv, env, self.log_dir / f"{name}.log")
        self.workers.append(worker)
        return worker

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all(worker.ready() for worker in self.workers):
            if time.monotonic() > deadline:
                raise DemoError(f"the workers were not ready within {timeout:g} s")
            time.sleep(0.1)

    def logs(self) -> list[str]:
        return [line for worker in self.workers for line in worker.log().splitlines()]

    def stop(self, timeout: float = 15.0) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            worker.reap(timeout)

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
