"""Sent or not, from plain values: the stage a failure struck at decides, the exception only
names what went wrong (``worker.paynet.stages``); the library's exceptions named once
(``worker.paynet.transport.fault_of``).
"""

from __future__ import annotations

import errno
import itertools

import pytest
import requests
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from worker.core.causes import Cause
from worker.paynet.stages import Fault, Stage, judge_transport
from worker.paynet.transport import Progress, fault_of

BEFORE_ANY_BYTE = {Stage.CONNECTING, Stage.ESTABLISHED, Stage.READY}


@pytest.mark.parametrize(("stage", "fault"), list(itertools.product(Stage, Fault)))
def test_nothing_was_sent_only_when_no_byte_of_the_request_was_written(
    stage: Stage, fault: Fault
) -> None:
    assert judge_transport(stage, fault).maybe_sent is (stage not in BEFORE_ANY_BYTE)


@pytest.mark.parametrize(
    ("stage", "fault", "cause", "detail", "maybe_sent"),
    [
        (Stage.CONNECTING, Fault.REFUSED, Cause.UNREACHABLE, "connection refused", False),
        (Stage.CONNECTING, Fault.NAME, Cause.UNREACHABLE, "name not resolved", False),
        (Stage.CONNECTING, Fault.TIMEOUT, Cause.TIMEOUT, "connect timeout", False),
        (Stage.ESTABLISHED, Fault.TLS, Cause.UNREACHABLE, "TLS handshake failed", False),
        (Stage.ESTABLISHED, Fault.TIMEOUT, Cause.TIMEOUT, "TLS handshake timed out", False),
        (
            Stage.ESTABLISHED,
            Fault.LOST,
            Cause.UNREACHABLE,
            "connection lost in the TLS handshake",
            False,
        ),
        (
            Stage.WRITTEN,
            Fault.TLS,
            Cause.UNREACHABLE,
            "TLS stream broken after the request was written",
            True,
        ),
        (
            Stage.WRITTEN,
            Fault.LOST,
            Cause.UNREACHABLE,
            "connection lost after the request was written",
            True,
        ),
        (Stage.WRITTEN, Fault.TIMEOUT, Cause.TIMEOUT, "read timeout", True),
        (Stage.ANSWERED, Fault.TIMEOUT, Cause.TIMEOUT, "read timeout in the body", True),
        (Stage.ANSWERED, Fault.LOST, Cause.UNREACHABLE, "connection lost in the body", True),
        (Stage.ANSWERED, Fault.DEADLINE, Cause.TIMEOUT, "send deadline passed in the body", True),
        (Stage.ANSWERED, Fault.UNDECODABLE, Cause.MALFORMED, "body cannot be decompressed", True),
        (Stage.UNSEEN, Fault.OTHER, Cause.UNREACHABLE, "transport error at an unseen stage", True),
        (
            Stage.UNSEEN,
            Fault.REDIRECTS,
            Cause.HTTP_ERROR,
            "too many redirects at an unseen stage",
            True,
        ),
    ],
)
def test_each_stage_and_fault_has_its_cause_and_a_detail_an_operator_can_grep(
    stage: Stage, fault: Fault, cause: Cause, detail: str, maybe_sent: bool
) -> None:
    failure = judge_transport(stage, fault)
    assert (failure.cause, failure.detail, failure.maybe_sent) == (cause, detail, maybe_sent)


def test_a_tls_error_is_nothing_sent_in_the_handshake_and_in_doubt_after_the_request() -> None:
    wrapped = MaxRetryError(None, "/", SSLError("wrong version number"))  # type: ignore[arg-type]
    fault = fault_of(requests.exceptions.SSLError(wrapped))
    assert judge_transport(Stage.ESTABLISHED, fault).maybe_sent is False
    assert judge_transport(Stage.WRITTEN, fault).maybe_sent is True


def test_a_failure_on_a_reused_keep_alive_connection_says_so() -> None:
    failure = judge_transport(Stage.WRITTEN, Fault.LOST, reused=True)
    assert failure.maybe_sent is True
    assert failure.detail.endswith("(on a reused keep-alive connection)")


def refused() -> NewConnectionError:
    error = NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    error.__cause__ = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    return error


def unreachable() -> NewConnectionError:
    error = NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    error.__cause__ = OSError(errno.ENETUNREACH, "Network is unreachable")
    return error


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        (requests.ConnectTimeout(), Fault.TIMEOUT),
        (requests.ReadTimeout(), Fault.TIMEOUT),
        (requests.ConnectionError(ReadTimeoutError(None, "/", "Read timed out.")), Fault.TIMEOUT),  # type: ignore[arg-type]
        (requests.ConnectionError(MaxRetryError(None, "/", refused())), Fault.REFUSED),  # type: ignore[arg-type]
        (requests.ConnectionError(MaxRetryError(None, "/", unreachable())), Fault.CONNECT_FAILED),  # type: ignore[arg-type]
        (
            requests.ConnectionError(
                MaxRetryError(None, "/", NameResolutionError("paynet.invalid", None, OSError()))  # type: ignore[arg-type]
            ),
            Fault.NAME,
        ),
        (requests.ConnectionError(ProtocolError("Connection aborted.")), Fault.LOST),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), Fault.LOST),
        (requests.exceptions.ContentDecodingError("bad gzip"), Fault.UNDECODABLE),
        (requests.TooManyRedirects(), Fault.REDIRECTS),
        (requests.exceptions.SSLError(), Fault.TLS),
        (requests.exceptions.InvalidURL("no host"), Fault.OTHER),
        (ConnectionResetError(errno.ECONNRESET, "reset"), Fault.LOST),
        (TimeoutError(), Fault.TIMEOUT),
    ],
    ids=[
        "connect_timeout",
        "read_timeout",
        "read_timeout_while_streaming_the_body",
        "connection_refused",
        "network_unreachable",
        "name_not_resolved",
        "connection_aborted",
        "cut_mid_body",
        "undecodable_body",
        "redirect_loop",
        "tls",
        "bad_url",
        "raw_reset",
        "raw_socket_timeout",
    ],
)
def test_the_library_s_exceptions_are_named_without_regard_to_their_stage(
    exc: BaseException, fault: Fault
) -> None:
    assert fault_of(exc) is fault


def test_a_request_s_progress_only_moves_forward_and_knows_its_own_connection() -> None:
    progress = Progress()
    progress.reach(Stage.WRITTEN)
    assert progress.reused  # written without a connect of its own
    progress.reach(Stage.CONNECTING)
    assert progress.stage is Stage.WRITTEN
    assert not progress.reused
