"""The bearer simulator's HTTP handling: a token endpoint (``/oauth/token``, ``/auth``) and
protected resources under ``/api/``, with the Paynet simulator's faults and keep-alive."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from .. import faults
from ..httpserver import SimulatorHTTPServer
from .state import BearerState, token_answer

TOKEN_PATHS = ("/oauth/token", "/auth")
RESOURCE_PREFIX = "/api/"
JSON_TYPE = "application/json"
MAX_BODY = 1 << 20


class BearerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "BearerSimulator/1.0"

    @property
    def _server(self) -> SimulatorHTTPServer:
        return cast(SimulatorHTTPServer, self.server)

    @property
    def _state(self) -> BearerState:
        return cast(BearerState, self._server.state)

    def setup(self) -> None:
        super().setup()
        self._server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._server.untrack(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing: request details hold secrets."""

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_PATCH(self) -> None:
        self._route("PATCH")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, verb: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._send(413, {"error": "too_large"})
            return
        body = self.rfile.read(length)
        if verb == "POST" and parts.path in TOKEN_PATHS:
            self._serve("login", lambda fault: self._login(parts.path, body, fault))
        elif parts.path.startswith(RESOURCE_PREFIX):
            self._serve("resource", lambda _: self._resource(verb, parts.path, parts.query, body))
        else:
            self._send(404, {"error": "not_found"})

    def _serve(self, target: str, run: Any) -> None:
        state = self._state
        state.count("logins_attempted" if target == "login" else "calls")
        fault = state.take_fault(target)
        config = state.config
        latency = config.login_latency if target == "login" else config.call_latency
        if not self._server.pause(latency) or (fault is not None and fault.kind == "down"):
            self.close_connection = True
            return
        canned = faults.canned_answer(fault) if fault is not None else None
        if canned is not None:
            self._send_raw(canned.status, canned.body, canned.content_type)
            return
        if fault is not None and fault.kind == "slow" and not self._server.pause(fault.delay):
            self.close_connection = True
            return
        run(fault)

    def _login(self, path: str, body: bytes, fault: faults.Fault | None) -> None:
        fields = _fields(body, self.headers.get("Content-Type", ""))
        if path == "/auth":
            client_id, secret = fields.get("application_id"), fields.get("secret")
        else:
            client_id, secret = fields.get("client_id"), fields.get("client_secret")
            if fields.get("grant_type", "client_credentials") != "client_credentials":
                self._send(400, {"error": "unsupported_grant_type"})
                return
        if fault is not None and fault.kind == "refused_credentials":
            client_id = None
        issued = self._state.login(client_id, secret)
        if issued is None:
            self._send(401, {"error": "invalid_client"})
            return
        token, config = issued
        answer = token_answer(path, token, config)
        if fault is not None and fault.kind == "no_token":
            answer.pop("access_token", None)
            answer.pop("token", None)
        self._send(200, answer)

    def _resource(self, verb: str, path: str, query: str, body: bytes) -> None:
        header = self.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else None
        status = self._state.check(token)
        if status != "valid":
            self._send(401, {"error": "invalid_token", "reason": status}, bearer_error=True)
            return
        key = self.headers.get("Idempotency-Key")
        self._state.executed(key)
        received = json.loads(body) if body else None
        self._send(
            200,
            {"ok": True, "method": verb, "path": path, "query": parse_qs(query), "json": received},
        )

    def _send(self, status: int, payload: Any, bearer_error: bool = False) -> None:
        body = json.dumps(payload).encode()
        self._send_raw(status, body, JSON_TYPE, bearer_error)

    def _send_raw(
        self, status: int, body: bytes, content_type: str, bearer_error: bool = False
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if bearer_error:  # RFC 6750 section 3
                self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


def _fields(body: bytes, content_type: str) -> dict[str, Any]:
    """A form's or a JSON object's fields; nothing for anything else."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {name: values[0] for name, values in parse_qs(text).items()}
