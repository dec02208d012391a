"""``BearerSimulator``: started on an ephemeral port, steered in-process by tests."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from ..faults import make_fault
from ..httpserver import SimulatorHTTPServer, serve_in_thread, shut_down
from .handler import BearerHandler
from .state import BearerConfig, BearerState


class BearerSimulator:
    """A real HTTP server on loopback speaking OAuth2 client credentials and Bearer headers."""

    def __init__(self, config: BearerConfig | None = None, host: str = "127.0.0.1") -> None:
        self._host = host
        self.state = BearerState(config or BearerConfig())
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> BearerSimulator:
        server = SimulatorHTTPServer((self._host, 0), BearerHandler, self.state)  # type: ignore[arg-type]
        self._server = server
        self._thread = serve_in_thread(server, "bearer-simulator")
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            shut_down(server, self._thread)

    def __enter__(self) -> BearerSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the bearer simulator is not running")
        return f"http://{self._host}:{self._server.server_address[1]}"

    def inject_fault(self, target: str, kind: str, **options: Any) -> None:
        """The Paynet simulator's faults, on ``login`` (the token endpoint) or ``resource``."""
        self.state.inject_fault(make_fault(target, kind, **options))

    def configure(self, **changes: Any) -> BearerConfig:
        return self.state.configure(**changes)

    def revoke(self) -> int:
        return self.state.revoke()

    def reset(self) -> None:
        server = self._server
        if server is not None:
            server.interrupt_paused()
        self.state.reset()

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def issued_tokens(self) -> list[str]:
        return self.state.issued_tokens()
