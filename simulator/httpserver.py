"""The threaded HTTP server underneath the simulator, able to stop with connections still open."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from .state import SimulatorState


class SimulatorHTTPServer(ThreadingHTTPServer):
    """One thread per connection; remembers live connections so stop() can cut kept-alive ones.

    Without that, a pooled client would keep talking to a "stopped" simulator.
    """

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # Room for a burst of 64+ clients connecting at once; the default backlog of 5 would stall.
    request_queue_size = 256

    def __init__(
        self,
        server_address: tuple[str, int],
        handler_class: Callable[..., socketserver.BaseRequestHandler],
        state: SimulatorState,
    ) -> None:
        self.state = state
        self.stopping = threading.Event()
        # Set when the simulator is reset (and when it stops): a request paused then is dropped,
        # so no late answer, token or execution lands in the counters of whatever comes next.
        self.interrupt = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(server_address, handler_class)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup, which can stall on machines without DNS."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, connection: socket.socket) -> None:
        """Remember a connection a handler thread is serving."""
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a connection once its handler is done."""
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Cut every open connection, so clients see the simulator gone."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def pause(self, seconds: float) -> bool:
        """Sleep, cut short by stop() or a reset; False when the request must not be answered."""
        interrupt = self.interrupt
        if seconds > 0:
            return not interrupt.wait(seconds)
        return not interrupt.is_set()

    def interrupt_paused(self) -> None:
        """Drop every request paused now (a reset); later ones pause as usual."""
        paused, self.interrupt = self.interrupt, threading.Event()
        paused.set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that hang up mid-answer are normal here, and logs must stay clean."""


def serve_in_thread(server: SimulatorHTTPServer, name: str) -> threading.Thread:
    """Serve ``server`` in a daemon thread (each simulator's way of starting)."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return thread


def shut_down(server: SimulatorHTTPServer, thread: threading.Thread | None) -> None:
    """Stop accepting, close the listening socket, cut open connections, drop paused requests."""
    server.stopping.set()
    server.interrupt.set()
    server.shutdown()
    server.server_close()
    server.close_connections()
    if thread is not None:
        thread.join(timeout=5)
