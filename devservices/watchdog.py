"""Stop a server when the Python process that started it dies without cleaning up.

``atexit`` does not run on SIGKILL (CI timeouts, OOM killer), and ``pg_ctl``
daemonizes the postmaster, so ``PR_SET_PDEATHSIG`` cannot reach it. A tiny
stdlib-only child polls for its parent's death instead, then fast-shuts the
server down and removes its private temp dir.

Run as a script, not as ``-m devservices.watchdog``, so that it starts without
importing the package (SQLAlchemy, redis, ...):
``watchdog.py PARENT_PID TARGET_PID MARKER [CLEANUP_DIR]`` (TARGET_PID 0: none).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

_POLL_S = 0.5
_SHUTDOWN_TIMEOUT_S = 10.0


def spawn_watchdog(
    target_pid: int | None, marker: str = "", cleanup_dir: Path | None = None
) -> subprocess.Popen[bytes]:
    """Watch this process; when it dies, stop ``target_pid`` if its command line
    still contains ``marker`` (guards against pid reuse), then remove ``cleanup_dir``."""
    args = [sys.executable, "-I", str(Path(__file__).resolve()), str(os.getpid())]
    args += [str(target_pid or 0), marker]
    if cleanup_dir is not None:
        args.append(str(cleanup_dir))
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives a signal sent to our whole process group
    )


def dismiss(watchdog: subprocess.Popen[bytes]) -> None:
    """End a watchdog whose server is being stopped in the ordinary way."""
    if watchdog.poll() is None:
        watchdog.kill()
    watchdog.wait()


def _alive(pid: int) -> bool:
    """Running and not a zombie (a non-child's zombie waits for init)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _runs(pid: int, marker: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return marker.encode() in cmdline


def _stop(pid: int) -> None:
    # SIGINT is PostgreSQL's "fast shutdown": backends end, postmaster exits.
    for sig, timeout in ((signal.SIGINT, _SHUTDOWN_TIMEOUT_S), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _alive(pid):
            return


def main(argv: Sequence[str]) -> int:
    parent, target, marker = int(argv[0]), int(argv[1]), argv[2]
    cleanup = Path(argv[3]) if len(argv) > 3 else None
    while os.getppid() == parent:
        time.sleep(_POLL_S)
    if target > 0 and _runs(target, marker):
        _stop(target)
    if cleanup is not None:
        shutil.rmtree(cleanup, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
