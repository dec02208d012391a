"""The HTTP side of a bearer integration: its token endpoint (as a ``TokenSource``) and its
resources, through the staged session Paynet's client uses, so that a failure is judged by how
far the request got (``worker.paynet.stages``): "nothing sent" only when no byte of it left.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import HTTPError
from urllib3.util import Timeout

from worker.core import metrics
from worker.core.clock import Clock, utcnow
from worker.core.logins import Issued, LoginFailure
from worker.core.redaction import register_secret, register_token
from worker.integrations.answers import judge_token_answer
from worker.paynet.client import read_limited
from worker.paynet.failures import HttpAnswer, TransportFailure
from worker.paynet.stages import judge_transport
from worker.paynet.transport import fault_of, new_session, tracking
from worker.settings import Integration


@dataclass(frozen=True)
class Reply:
    """A resource's HTTP answer, whatever its status."""

    status: int
    body: bytes
    content_type: str | None
    elapsed: float
    redirect_to: str | None = None  # the Location host of a 3xx, which is never followed


class BearerClient:
    """One integration's token endpoint and resources; thread-safe."""

    def __init__(
        self,
        name: str,
        settings: Integration,
        session: requests.Session | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.name = name
        self.settings = settings
        self.session = session or new_session()
        self.clock = clock
        for secret in settings.secrets():
            register_secret(secret)
        self._verify: bool | str = settings.ca_bundle or settings.verify_tls

    @property
    def login_url(self) -> str:
        return self.settings.url(self.settings.token.path)

    def login(self) -> Issued:
        endpoint = self.settings.token
        fields: dict[str, str] = dict(endpoint.fields)
        fields.update({k: v.get_secret_value() for k, v in endpoint.secret_fields.items()})
        body: dict[str, Any] = {"json": fields} if endpoint.format == "json" else {"data": fields}
        try:
            reply = self._send("POST", endpoint.path, self.settings.timeouts.login, body)
        except TransportFailure as failure:
            raise LoginFailure(failure.cause, failure.detail) from None
        answer = HttpAnswer(reply.status, reply.body, reply.elapsed, reply.redirect_to)
        token, life = judge_token_answer(answer, endpoint, self.clock())
        register_token(token)
        return Issued(token, reply.elapsed, life)

    def call(
        self,
        method: str,
        path: str,
        token: str,
        query: dict[str, Any] | None = None,
        json_body: Any = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        """One request with ``token``; raises ``TransportFailure`` (``maybe_sent`` says
        whether it may have reached the API)."""
        settings = self.settings
        value = f"{settings.scheme} {token}" if settings.scheme else token
        headers = {settings.header: value}
        if idempotency_key is not None and settings.idempotency_header:
            headers[settings.idempotency_header] = idempotency_key
        extra: dict[str, Any] = {"headers": headers, "params": query or None}
        if json_body is not None:
            extra["data"] = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            reply = self._send(method, path, settings.timeouts.read, extra)
        except TransportFailure as failure:
            metrics.integration_call(self.name, method, str(failure.cause), _since(started))
            raise
        metrics.integration_call(self.name, method, f"http_{reply.status}", reply.elapsed)
        return reply

    def _send(self, method: str, path: str, read_timeout: float, extra: dict[str, Any]) -> Reply:
        with tracking() as progress:
            try:
                return self._request(method, path, read_timeout, extra)
            except (OSError, HTTPError) as exc:
                raise judge_transport(progress.stage, fault_of(exc), progress.reused) from None

    def _request(self, method: str, path: str, read_timeout: float, extra: dict[str, Any]) -> Reply:
        started = time.monotonic()
        connect = self.settings.timeouts.connect
        deadline = started + connect + read_timeout
        timeout = Timeout(connect=connect, read=read_timeout, total=connect + read_timeout)
        with self.session.request(
            method,
            self.settings.url(path),
            timeout=timeout,  # type: ignore[arg-type]  # requests takes urllib3's
            verify=self._verify,
            stream=True,
            allow_redirects=False,  # a redirect would carry the token elsewhere
            **extra,
        ) as response:
            content = read_limited(response, deadline)
            location = response.headers.get("Location") if response.is_redirect else None
            return Reply(
                response.status_code,
                content,
                response.headers.get("Content-Type"),
                time.monotonic() - started,
                None if location is None else _host(location),
            )


def _host(location: str) -> str:
    return urlsplit(location).netloc or "the same host"


def _since(started: float) -> float:
    return time.monotonic() - started
