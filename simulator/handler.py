"""HTTP request handling: routes, faults, and answers that always carry a Content-Length."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import urlsplit

from . import faults, jsonrpc, rpc
from .control_api import CONTROL_PREFIX, handle_control
from .faults import Fault
from .httpserver import SimulatorHTTPServer

LOGIN_PATH = "/v2/user"
RESOURCE_PREFIX = "/v2/"
DEFAULT_RESOURCE_PATH = "/v2/gw/transaction"
JSON_TYPE = "application/json"
MAX_BODY = 1 << 20


class PaynetHandler(BaseHTTPRequestHandler):
    """Serves Paynet's login and resource endpoints and the control interface.

    HTTP/1.1 with keep-alive, so a pooled requests.Session reuses its connections as it would
    against the real provider.
    """

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; Nagle plus delayed ACK would add ~40 ms to each.
    disable_nagle_algorithm = True
    server_version = "PaynetSimulator/1.0"

    @property
    def _sim(self) -> SimulatorHTTPServer:
        return cast(SimulatorHTTPServer, self.server)

    def setup(self) -> None:
        """Track the connection so stop() can cut it."""
        super().setup()
        self._sim.track(self.connection)
        self._sim.state.note_connection()

    def finish(self) -> None:
        """Untrack the connection."""
        try:
            super().finish()
        finally:
            self._sim.untrack(self.connection)

    def version_string(self) -> str:
        """The Server header: the simulator's name, no Python version."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing: the simulator must stay quiet, and request details may hold secrets."""

    # routing

    def do_GET(self) -> None:
        """Control reads; Paynet itself only speaks POST."""
        path = urlsplit(self.path).path
        body = self._read_body()
        if body is None:
            return
        if path.startswith(CONTROL_PREFIX):
            self._control("GET", path, body)
        else:
            self._send_text(405, "Method Not Allowed")

    def do_POST(self) -> None:
        """Login, resources and control writes."""
        path = urlsplit(self.path).path
        body = self._read_body()
        if body is None:
            return
        if path.startswith(CONTROL_PREFIX):
            self._control("POST", path, body)
        elif path.rstrip("/") == LOGIN_PATH:
            self._paynet("login", body)
        elif path.startswith(RESOURCE_PREFIX):
            self._paynet("resource", body)
        else:
            self._send_text(404, "Not Found")

    def _control(self, verb: str, path: str, body: bytes) -> None:
        status, answer = handle_control(self._sim.state, verb, path, body)
        self._send(status, jsonrpc.dumps(answer), JSON_TYPE)

    # Paynet

    def _paynet(self, target: str, body: bytes) -> None:
        """Count, meet any fault, run the request, and answer (or not)."""
        sim = self._sim
        state = sim.state
        request = rpc.parse_request(body)
        method = request.method if isinstance(request, rpc.Request) else None
        state.note_request(target, method, self.headers.get("traceparent"))
        fault = state.take_fault(target, method)
        config = state.config
        latency = config.login_latency if target == "login" else config.call_latency
        if not sim.pause(latency) or (fault is not None and fault.kind == "down"):
            self._drop()
            return
        canned = faults.canned_answer(fault) if fault is not None else None
        if canned is not None:
            self._send(canned.status, canned.body, canned.content_type, canned.location)
            return
        if fault is not None and fault.kind == "slow" and not sim.pause(fault.delay):
            self._drop()
            return
        reply = self._run(target, request, fault)
        if fault is not None and fault.kind == "execute_then_hang" and not sim.pause(fault.delay):
            self._drop()
            return
        self._send(reply.status, _mangle(reply.payload, fault), JSON_TYPE)

    def _run(self, target: str, request: rpc.Request | rpc.Reply, fault: Fault | None) -> rpc.Reply:
        state = self._sim.state
        if isinstance(request, rpc.Reply):
            return request
        kind = fault.kind if fault is not None else None
        if target == "resource":
            return rpc.resource(state, request)
        if kind == "refused_credentials":
            state.note_refusal()
            return rpc.refusal(request)
        return rpc.login(state, request, issue_token=kind != "no_token")

    # HTTP plumbing

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None after answering a bad one."""
        try:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return self._read_chunked()
            length = int(self.headers.get("Content-Length", "0"))
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            self._send_text(400, "Bad Request")
            return None
        if length > MAX_BODY:
            self.close_connection = True
            self._send_text(413, "Payload Too Large")
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                self._send_text(413, "Payload Too Large")
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _drop(self) -> None:
        """Close the connection without a byte of answer: the provider is down."""
        self.close_connection = True

    def _send_text(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _send(
        self, status: int, body: bytes, content_type: str, location: str | None = None
    ) -> None:
        """Write a complete answer; a client that already hung up is not an error here."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if location is not None:
                self.send_header("Location", location)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


def _mangle(payload: dict[str, Any], fault: Fault | None) -> bytes:
    """Encode an answer, spoiling it as a processing fault asks."""
    kind = fault.kind if fault is not None else None
    if kind == "wrong_id":
        payload = {**payload, "id": faults.wrong_id(payload.get("id"))}
    body = jsonrpc.dumps(payload)
    return faults.truncate(body) if kind == "truncated_json" else body
