"""Real Celery worker processes, started with the project's own command line.

Used by the tests, the demo and the benchmarks: several processes consuming one broker stand in
for several hosts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


class WorkerProcess:
    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 - the celery command line we build, no shell
            argv,
            cwd=REPO_ROOT,
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group, as when a host dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        if self.popen.poll() is None:
            self.popen.wait(timeout=10)
        self._log.close()


class WorkerPool:
    """Several worker processes consuming the same broker, as separate hosts would."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_dir: Path,
        processes: int = 1,
        concurrency: int = 4,
        pool: str = "prefork",
        queues: str | None = None,
        app: str = "worker",
        loglevel_flag: bool = True,
    ) -> None:
        self.env = dict(env)
        self.loglevel_flag = loglevel_flag  # False: no --loglevel, as a worker started by hand
        self.log_dir = log_dir
        self.concurrency = concurrency
        self.pool = pool
        self.queues = queues
        self.app = app
        self.workers: list[WorkerProcess] = []
        self._started = 0
        for _ in range(processes):
            self.add()

    def add(self) -> WorkerProcess:
        self._started += 1
        name = f"w{self._started}"
        # A node name of its own: on RabbitMQ a node's control queue is exclusive, and a pool
        # of a test just ended may still hold "w1@host" for a moment.
        node = f"{name}-{uuid.uuid4().hex[:6]}"
        argv = [
            sys.executable, "-m", "celery", "-A", self.app, "worker",
            "--pool", self.pool, "--concurrency", str(self.concurrency),
            "--hostname", f"{node}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        if self.loglevel_flag:
            argv += ["--loglevel", self.env.get("LOG_LEVEL", "INFO")]
        if self.queues:
            argv += ["--queues", self.queues]
        worker = WorkerProcess(name, argv, self.env, self.log_dir / f"{name}.log")
        self.workers.append(worker)
        return worker

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            while " ready." not in worker.log():
                if not worker.alive():
                    raise RuntimeError(f"worker {worker.name} exited:\n{worker.log()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker {worker.name} not ready:\n{worker.log()[-3000:]}")
                time.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(worker.log() for worker in self.workers)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
