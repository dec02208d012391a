"""The Simulator: a Paynet stand-in that tests start on an ephemeral port and steer in-process."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from .accounts import Account
from .config import Config
from .faults import make_fault
from .handler import DEFAULT_RESOURCE_PATH, LOGIN_PATH, PaynetHandler
from .httpserver import SimulatorHTTPServer, serve_in_thread, shut_down
from .state import SimulatorState


class Simulator:
    """A real HTTP server on loopback speaking Paynet's JSON-RPC, with faults on command.

    State (tokens, payments, counters) outlives stop(), so start() again on the same port models
    the provider coming back after an outage.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: Iterable[Account] | None = None,
        config: Config | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self.state = SimulatorState(accounts, config)
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # lifecycle

    def start(self) -> Simulator:
        """Bind (port 0: an ephemeral one, kept for later restarts) and serve in a daemon thread."""
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError("the simulator is already running")
            server = SimulatorHTTPServer((self._host, self._port), PaynetHandler, self.state)
            self._port = int(server.server_address[1])
            thread = serve_in_thread(server, f"paynet-simulator-{self._port}")
            self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop accepting, close the listening socket and cut open connections."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            shut_down(server, thread)

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._server is not None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # addresses

    @property
    def host(self) -> str:
        """The address bound."""
        return self._host

    @property
    def port(self) -> int:
        """The port bound (known once started when constructed with port 0)."""
        if self._port == 0:
            raise RuntimeError("the simulator has no port until it is started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:8765."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def login_url(self) -> str:
        """Where login is called."""
        return self.url + LOGIN_PATH

    @property
    def resource_url(self) -> str:
        """The default resource endpoint."""
        return self.url + DEFAULT_RESOURCE_PATH

    # steering, the same operations as the control interface

    def revoke(self, username: str | None = None) -> int:
        """Revoke every valid token (of one user if given); return how many."""
        return self.state.revoke(username)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings (see Config); return them all."""
        return self.state.configure(**changes).as_dict()

    def config(self) -> dict[str, Any]:
        """The current settings."""
        return self.state.config.as_dict()

    def inject_fault(
        self,
        target: str,
        kind: str,
        count: int | None = None,
        delay: float | None = None,
        status: int | None = None,
        body: str | bytes | None = None,
        content_type: str | None = None,
        location: str | None = None,
    ) -> None:
        """Arm a fault for the next ``count`` requests to ``target`` (None: until cleared)."""
        fault = make_fault(target, kind, count, delay, status, body, content_type, location)
        self.state.inject_fault(fault)

    def clear_faults(self) -> int:
        """Disarm every fault; return how many were armed."""
        return self.state.clear_faults()

    def faults(self) -> list[dict[str, Any]]:
        """The armed faults and their remaining uses."""
        return self.state.faults()

    def reset(self) -> None:
        """Counters, tokens, payments and faults forgotten; settings back to the initial ones;
        requests still paused (a slow login, a held payment) are dropped, never answered."""
        server = self._server
        if server is not None:
            server.interrupt_paused()
        self.state.reset()

    def stats(self) -> dict[str, Any]:
        """What the simulator has received, as the control interface reports it."""
        return self.state.stats()

    def transaction_ids(self, agent_id: Any) -> list[int]:
        """The payments executed under an agent id, oldest first: how a test ties a result
        (which, as Paynet's, never names the agent id) to the payment it sent."""
        return self.state.transaction_ids(agent_id)

    def amounts(self, agent_id: Any) -> list[Any]:
        """The amount each of those payments received, as read (a fraction as a Decimal, every
        digit kept): how a test sees an amount arrive exact, since no answer holds it."""
        return self.state.amounts(agent_id)

    def recent_requests(self) -> list[dict[str, str | None]]:
        """The newest requests received (endpoint, method, ``traceparent`` header), oldest
        first: how a test sees that a trace's context reached Paynet."""
        return self.state.recent_requests()

    def issued_tokens(self) -> list[str]:
        """Every token issued since the last reset, oldest first (for leak searches in logs)."""
        return self.state.issued_tokens()
