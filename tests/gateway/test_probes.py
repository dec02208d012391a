"""The liveness and readiness commands, against a real worker process and a stopped one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.workers import REPO_ROOT, WorkerPool


def probe(kind: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """The command the manifests and the image run."""
    argv = [sys.executable, "-m", "worker.probes", kind, "--dir", str(directory)]
    return subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
                          check=False)  # fmt: skip


def test_the_probes_pass_against_a_running_worker_and_fail_once_it_stopped(
    start_workers: Callable[..., WorkerPool], tmp_path: Path
) -> None:
    directory = tmp_path / "probe"
    pool = start_workers(concurrency=1, env={"PAYNET_PROBE_DIR": str(directory)})
    pid = pool.workers[0].popen.pid
    for kind in ("live", "ready"):
        done = probe(kind, directory)
        assert done.returncode == 0, done.stderr
        assert f"process {pid}" in done.stdout
    by_cli = subprocess.run(
        [sys.executable, "-m", "worker.cli", "probe", "ready", "--dir", str(directory)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert by_cli.returncode == 0, by_cli.stderr

    pool.stop()  # SIGTERM: Celery's warm shutdown
    for kind in ("live", "ready"):
        done = probe(kind, directory)
        assert done.returncode == 1
        assert done.stderr.startswith(f"probe {kind}: no heartbeat file")
