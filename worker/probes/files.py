"""The probe files: written by the worker, read by the probe. One worker per directory."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from worker.probes.verdict import Beat, Kind, Verdict, judge

HEARTBEAT = "heartbeat"
READY = "ready"
DIRECTORY_VARIABLE = "PAYNET_PROBE_DIR"
BEAT_INTERVAL = 10.0  # seconds between heartbeats
MAX_AGE = 60.0  # a heartbeat older than this is a stuck worker (six missed beats)


def write(directory: Path, name: str) -> None:
    """This process's id in ``name``, replaced atomically (its mtime is the beat)."""
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{name}.{os.getpid()}"
    temporary.write_text(f"{os.getpid()}\n", encoding="ascii")
    os.replace(temporary, directory / name)


def remove(directory: Path, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (directory / name).unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def read(directory: Path, name: str) -> Beat | None:
    path = directory / name
    try:
        text, written_at = path.read_text(encoding="ascii"), path.stat().st_mtime
        pid = int(text.strip())
    except (FileNotFoundError, ValueError):
        return None
    return Beat(pid, written_at, _pid_alive(pid))


def check(kind: Kind, directory: Path, max_age: float = MAX_AGE) -> Verdict:
    """The verdict on the worker whose files are in ``directory``, now."""
    return judge(kind, read(directory, HEARTBEAT), read(directory, READY), time.time(), max_age)


def directory_from(value: str | None) -> Path | None:
    """The probe directory: the given one, else ``PAYNET_PROBE_DIR``, else none."""
    chosen = value or os.environ.get(DIRECTORY_VARIABLE, "")
    return Path(chosen) if chosen else None
