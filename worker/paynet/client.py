"""The HTTP side of Paynet: one pooled session per worker process, failures classified once.

Foreign exceptions (requests, urllib3) are translated in ``post`` and nowhere else, into
``TransportFailure`` for resources and ``LoginFailure`` for the token endpoint. Whether a failed
request may have reached Paynet (``maybe_sent``) decides whether a payment may be re-sent; it is
decided by the stage the request reached (recorded by ``transport``, judged by ``stages``), never
by the exception's class: the same ``SSLError`` is a refused certificate or a broken answer.
"""

from __future__ import annotations

import itertools
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import HTTPError
from urllib3.util import Timeout

from worker.core import metrics
from worker.core.logins import Issued
from worker.core.redaction import register_secret, register_token
from worker.paynet import jsonrpc
from worker.paynet.failures import HttpAnswer, HttpMalformed, LoginFailure, TransportFailure
from worker.paynet.stages import Fault, Stage, judge_transport
from worker.paynet.transport import fault_of, new_session, tracking
from worker.paynet.verdicts import judge_login, parse_http
from worker.settings import ProfileSettings

_ids = itertools.count(1)


class PaynetClient:
    """Talks to one profile's Paynet, and is its ``TokenSource``; thread-safe (requests.Session
    pools per host)."""

    def __init__(
        self,
        profile: ProfileSettings,
        session: requests.Session | None = None,
        transient_login_codes: frozenset[int] = frozenset(),
    ) -> None:
        self.profile = profile
        self.transient_login_codes = transient_login_codes
        self.session = session or new_session()
        register_secret(profile.password.get_secret_value())
        self._verify: bool | str = profile.ca_bundle or profile.verify_tls

    def post(self, path: str, body: dict[str, Any], read_timeout: float) -> HttpAnswer:
        """One POST within a total deadline of connect plus read timeout (not per read), never
        following a redirect: a 3xx comes back as it is, its ``Location`` host named. A failure
        is judged by how far the request got (``worker.paynet.stages``), not by its class."""
        with tracking() as progress:
            try:
                return self._post(path, body, read_timeout)
            except (OSError, HTTPError) as exc:  # requests' own errors are OSErrors too
                failure = judge_transport(progress.stage, fault_of(exc), progress.reused)
                raise failure from None

    def _post(self, path: str, body: dict[str, Any], read_timeout: float) -> HttpAnswer:
        started = time.monotonic()
        connect = self.profile.timeouts.connect
        deadline = started + connect + read_timeout
        timeout = Timeout(connect=connect, read=read_timeout, total=connect + read_timeout)
        with self.session.post(
            self.profile.url(path),
            data=jsonrpc.encode(body),
            headers={"Content-Type": "application/json"},
            timeout=timeout,  # type: ignore[arg-type]  # requests takes urllib3's
            verify=self._verify,
            stream=True,
            allow_redirects=False,  # a redirect would re-post the token, or drop the body
        ) as response:
            content = read_limited(response, deadline)
            location = response.headers.get("Location") if response.is_redirect else None
            elapsed = time.monotonic() - started
            return HttpAnswer(response.status_code, content, elapsed, _host(location))

    def call(
        self, method: str, params: dict[str, Any], token: str, path: str | None = None
    ) -> tuple[jsonrpc.Answer, HttpAnswer]:
        """One resource call; raises ``TransportFailure`` or ``HttpMalformed``."""
        request_id = next(_ids)
        body = jsonrpc.build_request(
            method, params, request_id, token, self.profile.token_placement
        )
        started = time.monotonic()
        try:
            answer = self.post(path or self.profile.resource_path, body, self.profile.timeouts.read)
        except TransportFailure as failure:
            metrics.paynet_call(method, str(failure.cause), time.monotonic() - started)
            raise
        try:
            parsed = parse_http(answer, request_id)
        except HttpMalformed as malformed:
            metrics.paynet_call(method, str(malformed.cause), answer.elapsed)
            raise
        metrics.paynet_call(method, outcome_label(parsed), answer.elapsed)
        return parsed, answer

    @property
    def login_url(self) -> str:
        return self.profile.url(self.profile.login_path)

    def login(self) -> Issued:
        """Paynet's login answer says nothing of the token's life (``token.ttl`` may)."""
        request_id = next(_ids)
        params = {
            "username": self.profile.username,
            "password": self.profile.password.get_secret_value(),
            "terminal_id": self.profile.terminal_id,
        }
        body = jsonrpc.build_request("login", params, request_id)
        try:
            answer = self.post(self.profile.login_path, body, self.profile.timeouts.login)
        except TransportFailure as failure:
            raise LoginFailure(failure.cause, failure.detail) from None
        token = judge_login(answer, request_id, self.transient_login_codes)
        register_token(token)
        return Issued(token, answer.elapsed)


def outcome_label(answer: jsonrpc.Answer) -> str:
    """The ``outcome`` label of a call that got a JSON-RPC answer (rejections included)."""
    return "result" if isinstance(answer, jsonrpc.RpcResult) else "rpc_error"


def _host(location: str | None) -> str | None:
    """Where a redirect pointed, as host[:port] only (a URL may carry a query worth hiding)."""
    if location is None:
        return None
    return urlsplit(location).netloc or "the same host"


def read_limited(response: requests.Response, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    chunk: bytes
    for chunk in response.iter_content(chunk_size=65536):
        if time.monotonic() > deadline:
            raise judge_transport(Stage.ANSWERED, Fault.DEADLINE)
        size += len(chunk)
        if size > jsonrpc.MAX_BODY_BYTES:
            return b"".join(chunks) + chunk  # decode() rejects it as oversized
        chunks.append(chunk)
    return b"".join(chunks)
