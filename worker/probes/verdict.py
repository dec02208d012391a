"""Whether a worker is alive or ready, judged from what its probe files say (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["live", "ready"]


@dataclass(frozen=True)
class Beat:
    """One probe file as found: the worker's process id and when it was last written."""

    pid: int
    written_at: float  # seconds since the epoch
    pid_alive: bool


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


def judge(
    kind: Kind, heartbeat: Beat | None, ready: Beat | None, now: float, max_age: float
) -> Verdict:
    """Alive: the main process beats (its event loop ran within ``max_age``). Ready: alive and
    consuming (the ready file is written when the consumer starts and removed when it stops)."""
    if heartbeat is None:
        return Verdict(False, "no heartbeat file: the worker has not started, or has stopped")
    if not heartbeat.pid_alive:
        return Verdict(False, f"the worker process {heartbeat.pid} is gone")
    age = now - heartbeat.written_at
    if age > max_age:
        return Verdict(
            False, f"last heartbeat {age:.0f} s ago (more than {max_age:g} s): the worker is stuck"
        )
    if kind == "live":
        return Verdict(True, f"alive: process {heartbeat.pid}, heartbeat {max(age, 0):.0f} s ago")
    if ready is None or ready.pid != heartbeat.pid:
        return Verdict(False, "not consuming: connecting to the broker, starting or stopping")
    return Verdict(True, f"ready: process {heartbeat.pid} consuming")
