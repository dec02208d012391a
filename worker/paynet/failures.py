"""What can go wrong on the wire, as plain values and exceptions: no I/O, no HTTP library.

``TransportFailure`` (no usable HTTP answer; ``maybe_sent`` says whether the request may have
reached Paynet: false only when no byte of it was written, see ``stages``), ``HttpMalformed``
(an HTTP answer that is not JSON-RPC to our request) and ``LoginFailure`` (a classified failure
to log in). Every ``detail`` is safe to log.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.core.causes import Cause
from worker.core.logins import LoginFailure

__all__ = ["HttpAnswer", "HttpMalformed", "LoginFailure", "TransportFailure"]


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    elapsed: float
    redirect_to: str | None = None  # the Location host of a 3xx, which is never followed


class TransportFailure(Exception):
    """The request got no usable HTTP answer."""

    def __init__(self, cause: Cause, detail: str, maybe_sent: bool) -> None:
        super().__init__(cause, detail, maybe_sent)
        self.cause = cause
        self.detail = detail
        self.maybe_sent = maybe_sent

    def __str__(self) -> str:
        return f"{self.cause.value}: {self.detail}"


class HttpMalformed(Exception):
    """An HTTP answer whose body is not a JSON-RPC answer to our request."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    @property
    def cause(self) -> Cause:
        return Cause.HTTP_ERROR if self.status >= 300 else Cause.MALFORMED

    def __str__(self) -> str:
        return f"HTTP {self.status}, {self.reason}"
