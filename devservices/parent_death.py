"""Tie a child process's life to its parent's (Linux ``PR_SET_PDEATHSIG``).

``atexit`` does not run when the parent is SIGKILLed (CI timeouts, OOM killer),
and an orphaned redis-server would then keep its port and memory forever.
"""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def parent_death_hook(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """Return a ``preexec_fn`` that makes the child get ``sig`` when we die.

    Returns None off Linux, and off the main thread: the kernel sends the signal
    when the *thread* that forked exits, so a child started from a short-lived
    helper thread would be killed as soon as that thread ends.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return hook
