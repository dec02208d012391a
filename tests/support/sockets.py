"""Tiny misbehaving servers on 127.0.0.1: each connection handed to a function in a thread.

Each one breaks the transport at a chosen stage (before the handshake, after the request was
read, in the body...), so the client's verdict is tested against what the server really saw.
``BreakingFront`` is such a function: a TLS front before the simulator that lets a request
through to it and then breaks the stream instead of returning the answer.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from tests.support.tls import Certificate

Handler = Callable[[socket.socket, "TinyServer"], object]

# A TLS record of type alert (21), version TLS 1.2, two bytes: fatal (2), internal_error (80):
# what a front that gives up on a connection sends, here unencrypted into an encrypted stream.
FATAL_ALERT = b"\x15\x03\x03\x00\x02\x02\x50"


class TinyServer:
    """Accepts on 127.0.0.1; with a certificate, does the TLS handshake first (its failure is
    the client's business, not this server's). Counts connections and whole requests read."""

    def __init__(self, handler: Handler, certificate: Certificate | None = None) -> None:
        self.handler = handler
        self.context: ssl.SSLContext | None = None
        if certificate is not None:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(certificate.cert, certificate.key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests = 0
        self.stopping = threading.Event()
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        scheme = "https" if self.context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def stop_listening(self) -> None:
        """New connections are refused from now on (a bare close would leave the accept that
        another thread is blocked in listening)."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()

    def close(self) -> None:
        self.stopping.set()
        self.stop_listening()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            if self.context is not None:
                conn = self.context.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._open.append(conn)
            self.handler(conn, self)

    def read_request(self, conn: socket.socket) -> bytes:
        """One whole HTTP request (head and Content-Length body), counted once read."""
        data = b""
        while b"\r\n\r\n" not in data:
            data += _recv(conn)
        head, body = data.split(b"\r\n\r\n", 1)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += _recv(conn)
        with self._lock:
            self.requests += 1
        return head + b"\r\n\r\n" + body

    def hold(self, seconds: float) -> None:
        """Sit on the connection (longer than the client waits), unless the test ends first."""
        self.stopping.wait(seconds)


def _recv(conn: socket.socket) -> bytes:
    chunk = conn.recv(65536)
    if not chunk:
        raise ConnectionError("the client closed the connection")
    return chunk


@contextmanager
def serving(handler: Handler, certificate: Certificate | None = None) -> Iterator[TinyServer]:
    server = TinyServer(handler, certificate)
    try:
        yield server
    finally:
        server.close()


def answer(conn: socket.socket, request: bytes) -> None:
    """A whole keep-alive answer: an empty JSON-RPC result to ``request``."""
    request_id = json.loads(request.split(b"\r\n\r\n", 1)[1])["id"]
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {}}).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    conn.sendall(head.encode() + b"\r\n\r\n" + body)


def reset(conn: socket.socket) -> None:
    """Close with a TCP reset instead of an orderly close."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def write_raw(tls: socket.socket, data: bytes) -> None:
    """Bytes straight into the TCP stream under a TLS connection, past its encryption."""
    with socket.socket(fileno=os.dup(tls.fileno())) as raw:
        raw.sendall(data)


def wait_for_bytes(conn: socket.socket, timeout: float = 10.0) -> None:
    """Until the client has sent something (not read: it stays unread in the kernel)."""
    select.select([conn], [], [], timeout)


def port_refusing() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


@contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose listener never accepts and whose accept queue is full: Linux drops the
    next SYN, so a connect there times out instead of being refused."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break  # the queue is full: this SYN was dropped
        else:
            raise RuntimeError("the listener's accept queue never filled")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


class BreakingFront:
    """A TLS front before an HTTP server (the simulator): forwards every request and returns its
    answer on a keep-alive connection, except that for requests ``breaks`` picks it forwards
    the request (so the server executes it), then breaks the TLS stream instead of answering,
    as a load balancer that fails mid-answer does: ``times`` times at most."""

    def __init__(
        self, upstream: str, breaks: Callable[[dict[str, Any]], bool], times: int = 1
    ) -> None:
        self.upstream = urlsplit(upstream)
        self.breaks = breaks
        self.times = times
        self.broken = 0
        self._lock = threading.Lock()

    def __call__(self, conn: socket.socket, server: TinyServer) -> None:
        while True:
            request = server.read_request(conn)
            head, body = request.split(b"\r\n\r\n", 1)
            status, answered = self._forward(head.split(b" ")[1].decode(), body)
            if self._breaking(json.loads(body)):
                write_raw(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                conn.close()
                return
            head_out = f"HTTP/1.1 {status} -\r\nContent-Type: application/json\r\n"
            conn.sendall(f"{head_out}Content-Length: {len(answered)}\r\n\r\n".encode() + answered)

    def _breaking(self, request: dict[str, Any]) -> bool:
        with self._lock:
            if self.broken >= self.times or not self.breaks(request):
                return False
            self.broken += 1
            return True

    def _forward(self, path: str, body: bytes) -> tuple[int, bytes]:
        upstream = http.client.HTTPConnection(self.upstream.netloc, timeout=30)
        try:
            upstream.request("POST", path, body, {"Content-Type": "application/json"})
            response = upstream.getresponse()
            return response.status, response.read()
        finally:
            upstream.close()
