"""Ctrl-C and SIGTERM end the demo the same way: everything it started is stopped first."""

from __future__ import annotations

import signal
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """Raised in the main thread by the first SIGINT or SIGTERM (BaseException, like Ctrl-C)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    ignore()  # the clean-up that follows must not be cut short by a second signal
    raise Interrupted(signum)


def interruption(exc: BaseException) -> Interrupted | None:
    """The interruption behind ``exc``: Python 3.11 wraps one raised while a class is being
    made (in ``__set_name__``) in a RuntimeError, so the signal may arrive as that."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, Interrupted):
            return seen
        seen = seen.__cause__
    return None


def install() -> None:
    for signum in SIGNALS:
        signal.signal(signum, _interrupt)


def ignore() -> None:
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
