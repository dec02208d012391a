"""The session Paynet is called through, whose connections record how far each request got.

requests and urllib3 raise the same exception class before and after a request left (an
``SSLError`` is a refused certificate or a broken record in the answer), so the exception alone
cannot say whether Paynet may have executed it. The connection classes here report each step of
the request they are serving (connect, TCP established, handshake done, first byte written,
answer's head read) to a ``Progress`` that ``tracking()`` puts in a context variable for one
request: per thread and per greenlet, whatever the pool. ``fault_of`` names what the library
raised; ``worker.paynet.stages.judge_transport`` decides from both.

A connection through a proxy from the environment is not staged: its failures stay in doubt.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from socket import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse

from worker.paynet.stages import Fault, Stage


@dataclass
class Progress:
    """How far the current request got, and whether it opened its own connection."""

    stage: Stage = Stage.UNSEEN
    connected: bool = False

    def reach(self, stage: Stage) -> None:
        self.connected = self.connected or stage == Stage.CONNECTING
        if stage > self.stage:
            self.stage = stage

    @property
    def reused(self) -> bool:
        """It was written on a connection an earlier request opened."""
        return self.stage >= Stage.WRITTEN and not self.connected


_current: ContextVar[Progress | None] = ContextVar("paynet_request_progress", default=None)


@contextmanager
def tracking() -> Iterator[Progress]:
    """Record the steps of the requests made inside (one at a time: one POST, no retries)."""
    progress = Progress()
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)


def _reach(stage: Stage) -> None:
    progress = _current.get()
    if progress is not None:
        progress.reach(stage)


class StagedHTTPConnection(HTTPConnection):
    """Reports connect, TCP established, ready, first byte written and answer's head read."""

    def connect(self) -> None:
        _reach(Stage.CONNECTING)
        super().connect()
        _reach(Stage.READY)

    def _new_conn(self) -> socket:
        sock = super()._new_conn()
        _reach(Stage.ESTABLISHED)  # for HTTPS the handshake comes next
        return sock

    def send(self, data: Any) -> None:
        """http.client connects lazily in ``send`` for plain HTTP: connect first, so that
        "written" is only ever said of a connected socket about to get bytes."""
        if self.sock is None and self.auto_open:
            self.connect()
        _reach(Stage.WRITTEN)
        super().send(data)

    def getresponse(self) -> BaseHTTPResponse:  # type: ignore[override]
        response = super().getresponse()
        _reach(Stage.ANSWERED)
        return response


class StagedHTTPSConnection(StagedHTTPConnection, HTTPSConnection):
    """The same steps; ``connect`` is HTTPS's, handshake included."""


class _StagedHTTPPool(HTTPConnectionPool):
    ConnectionCls = StagedHTTPConnection


class _StagedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = StagedHTTPSConnection


class StagedAdapter(HTTPAdapter):
    """requests' adapter whose pools make staged connections (proxies excepted)."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _StagedHTTPPool,
            "https": _StagedHTTPSPool,
        }


def new_session(pool_size: int = 64) -> requests.Session:
    session = requests.Session()
    adapter = StagedAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fault_of(exc: BaseException) -> Fault:
    """What requests or urllib3 reported, named without regard to when it struck."""
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return Fault.UNDECODABLE
    if isinstance(exc, requests.TooManyRedirects):
        return Fault.REDIRECTS
    inner = _inner(exc)
    if isinstance(inner, NameResolutionError):
        return Fault.NAME
    if isinstance(inner, NewConnectionError):
        refused = getattr(inner.__cause__, "errno", None) == errno.ECONNREFUSED
        return Fault.REFUSED if refused else Fault.CONNECT_FAILED
    if isinstance(exc, requests.Timeout) or isinstance(inner, Urllib3Timeout | TimeoutError):
        return Fault.TIMEOUT
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(inner, Urllib3SSLError):
        return Fault.TLS
    lost = requests.ConnectionError | requests.exceptions.ChunkedEncodingError | ProtocolError
    if isinstance(exc, lost):
        return Fault.LOST
    if isinstance(exc, requests.RequestException):  # a bad URL, a bad header: not the wire's
        return Fault.OTHER
    return Fault.LOST if isinstance(exc, OSError) else Fault.OTHER


def _inner(exc: BaseException) -> BaseException:
    """The urllib3 error a requests error wraps, through ``MaxRetryError``."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    return inner.reason if isinstance(inner, MaxRetryError) and inner.reason else inner
