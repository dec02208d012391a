"""Whether a failed request may have reached Paynet, decided by the stage it failed at: no I/O.

The same exception class can strike before or after the request left: a TLS error is a refused
certificate in the handshake, or a broken record after the request was written; a lost
connection is a reset on connect, or a keep-alive connection dropped under a request already
sent. So the transport records how far each request got (``Stage``) and the library's
exception only names what went wrong (``Fault``); ``judge_transport`` joins them.

Nothing was sent only when no byte of the request was written: the connection was never
established, or the TLS handshake failed. Anything later, or a stage nobody saw, may have
executed (``maybe_sent``).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from worker.core.causes import Cause
from worker.paynet.failures import TransportFailure


class Stage(IntEnum):
    """How far one request got; it only ever moves forward."""

    UNSEEN = 0  # no step of the transport was seen: nothing can be proved
    CONNECTING = 1  # resolving the name and opening a TCP connection
    ESTABLISHED = 2  # TCP is up; for HTTPS the TLS handshake is under way
    READY = 3  # connected (and handshaken), no byte of the request written yet
    WRITTEN = 4  # the first byte of the request was handed to the socket
    ANSWERED = 5  # the answer's status line and headers arrived; the body is being read


class Fault(StrEnum):
    """What went wrong, as the HTTP library reported it, whatever the stage."""

    NAME = "name not resolved"
    REFUSED = "connection refused"
    CONNECT_FAILED = "could not connect"
    TIMEOUT = "timeout"
    TLS = "TLS failure"
    LOST = "connection lost"
    UNDECODABLE = "body cannot be decompressed"
    REDIRECTS = "too many redirects"
    DEADLINE = "send deadline passed"
    OTHER = "transport error"


NOTHING_SENT = frozenset({Stage.CONNECTING, Stage.ESTABLISHED, Stage.READY})

_WHERE = {
    Stage.UNSEEN: "at an unseen stage",
    Stage.CONNECTING: "while connecting",
    Stage.ESTABLISHED: "in the TLS handshake",
    Stage.READY: "before the request was written",
    Stage.WRITTEN: "after the request was written",
    Stage.ANSWERED: "in the body",
}

# Where a stage and a fault together have a name of their own (operators grep for these).
_NAMED = {
    (Stage.CONNECTING, Fault.NAME): "name not resolved",
    (Stage.CONNECTING, Fault.REFUSED): "connection refused",
    (Stage.CONNECTING, Fault.CONNECT_FAILED): "could not connect",
    (Stage.CONNECTING, Fault.TIMEOUT): "connect timeout",
    (Stage.ESTABLISHED, Fault.TLS): "TLS handshake failed",
    (Stage.ESTABLISHED, Fault.TIMEOUT): "TLS handshake timed out",
    (Stage.WRITTEN, Fault.TIMEOUT): "read timeout",
    (Stage.WRITTEN, Fault.TLS): "TLS stream broken after the request was written",
    (Stage.ANSWERED, Fault.TIMEOUT): "read timeout in the body",
    (Stage.ANSWERED, Fault.TLS): "TLS stream broken in the body",
    (Stage.ANSWERED, Fault.UNDECODABLE): "body cannot be decompressed",
}

_CAUSES = {
    Fault.TIMEOUT: Cause.TIMEOUT,
    Fault.DEADLINE: Cause.TIMEOUT,
    Fault.UNDECODABLE: Cause.MALFORMED,
    Fault.REDIRECTS: Cause.HTTP_ERROR,
}


def judge_transport(stage: Stage, fault: Fault, reused: bool = False) -> TransportFailure:
    """The failure as the gateway reports it; ``reused``: the request went out on a keep-alive
    connection opened by an earlier request (named, since it is in doubt like any other)."""
    maybe_sent = stage not in NOTHING_SENT
    detail = _NAMED.get((stage, fault)) or f"{fault.value} {_WHERE[stage]}"
    if reused and stage >= Stage.WRITTEN:
        detail += " (on a reused keep-alive connection)"
    return TransportFailure(_CAUSES.get(fault, Cause.UNREACHABLE), detail, maybe_sent)
