"""The progress bar: a line redrawn in place on a terminal, a few plain lines otherwise."""

from __future__ import annotations

import time
from typing import TextIO

WIDTH = 30


def render(done: int, total: int, revocations: int, logins: int) -> str:
    filled = WIDTH * done // total if total else WIDTH
    bar = "#" * filled + "-" * (WIDTH - filled)
    return f"  [{bar}] {done:>4}/{total} payments   token revoked {revocations}x   logins {logins}"


class Progress:
    """Draws at most ten times a second on a terminal; in a log, one line per fifth and event."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.live = stream.isatty()
        self._drawn = 0.0
        self._step = -1

    def update(self, done: int, revocations: int, logins: int, event: str | None = None) -> None:
        line = render(done, self.total, revocations, logins)
        if self.live:
            now = time.monotonic()
            if event is None and now - self._drawn < 0.1 and done < self.total:
                return
            self._drawn = now
            self.stream.write("\r" + line)
        else:
            step = 5 * done // self.total if self.total else 5
            if event is None and step == self._step:
                return
            self._step = step
            self.stream.write(line + (f"   <- {event}" if event else "") + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
