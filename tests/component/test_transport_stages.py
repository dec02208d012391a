"""Sent or not, decided by the stage a transport failure struck at: the in-process client against
tiny servers on 127.0.0.1 that break the connection at each stage, over real sockets.

"Nothing was sent" is asserted only where the server saw no request; wherever the server read the
whole request the verdict must be "may have executed", whichever exception the library raised.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support.sockets import (
    FATAL_ALERT,
    TinyServer,
    answer,
    full_backlog,
    port_refusing,
    reset,
    serving,
    wait_for_bytes,
    write_raw,
)
from tests.support.tls import Certificate, self_signed
from worker.core.causes import Cause
from worker.paynet.client import PaynetClient
from worker.paynet.failures import LoginFailure, TransportFailure
from worker.settings import ProfileSettings, Timeouts

TIMEOUT = 0.5  # the client's connect and read timeouts: every server here holds longer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """The certificate the client trusts (its CA bundle)."""
    return self_signed(tmp_path_factory.mktemp("trusted"))


def paynet_at(url: str, certificate: Certificate) -> PaynetClient:
    profile = ProfileSettings(
        base_url=url,
        username="agent",
        password="pw-transport-stages",
        terminal_id=1,
        ca_bundle=str(certificate.cert),
        timeouts=Timeouts(connect=TIMEOUT, read=TIMEOUT, login=TIMEOUT),
    )
    return PaynetClient(profile)


def failure_of(client: PaynetClient) -> TransportFailure:
    with pytest.raises(TransportFailure) as caught:
        client.call("performTransaction", {"id": "stage-1"}, token="t" * 32)
    return caught.value


def verdict(failure: TransportFailure) -> tuple[Cause, bool]:
    return failure.cause, failure.maybe_sent


def https(server: TinyServer) -> str:
    """The URL of a server that speaks no TLS, as a client configured for HTTPS calls it."""
    return f"https://127.0.0.1:{server.port}"


# Before any byte of the request was written: nothing was sent.


def test_a_refused_connection_sends_nothing(certificate: Certificate) -> None:
    client = paynet_at(f"https://127.0.0.1:{port_refusing()}", certificate)
    failure = failure_of(client)
    assert verdict(failure) == (Cause.UNREACHABLE, False)
    assert failure.detail == "connection refused"


def test_a_name_that_does_not_resolve_sends_nothing(
    certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def resolver(host: Any, *args: Any, **kwargs: Any) -> Any:
        """No query leaves the machine: paynet.invalid is unknown, the rest resolves as ever."""
        if host == "paynet.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    failure = failure_of(paynet_at("https://paynet.invalid", certificate))
    assert verdict(failure) == (Cause.UNREACHABLE, False)
    assert failure.detail == "name not resolved"


def test_a_connect_that_times_out_on_a_full_backlog_sends_nothing(
    certificate: Certificate,
) -> None:
    with full_backlog() as port:
        failure = failure_of(paynet_at(f"https://127.0.0.1:{port}", certificate))
    assert verdict(failure) == (Cause.TIMEOUT, False)
    assert failure.detail == "connect timeout"


def test_a_tls_handshake_the_server_never_answers_times_out_and_sends_nothing(
    certificate: Certificate,
) -> None:
    with serving(lambda conn, server: server.hold(10)) as server:
        failure = failure_of(paynet_at(https(server), certificate))
    assert verdict(failure) == (Cause.TIMEOUT, False)
    assert failure.detail == "TLS handshake timed out"


def test_a_server_with_an_untrusted_certificate_is_sent_nothing(
    certificate: Certificate, tmp_path: Path
) -> None:
    stranger = self_signed(tmp_path)  # valid for 127.0.0.1, but not in the client's bundle
    with serving(lambda conn, server: server.read_request(conn), stranger) as server:
        failure = failure_of(paynet_at(server.url, certificate))
        assert server.requests == 0
    assert verdict(failure) == (Cause.UNREACHABLE, False)
    assert failure.detail == "TLS handshake failed"


def test_a_server_that_answers_the_client_hello_with_plain_bytes_is_sent_nothing(
    certificate: Certificate,
) -> None:
    def plain_http(conn: socket.socket, server: TinyServer) -> None:
        conn.recv(4096)  # the ClientHello
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with serving(plain_http) as server:
        failure = failure_of(paynet_at(https(server), certificate))
    assert verdict(failure) == (Cause.UNREACHABLE, False)
    assert failure.detail == "TLS handshake failed"


# After the server read the whole request: it may have executed.


def garbage_in_the_tls_stream(conn: socket.socket, server: TinyServer) -> None:
    """Plain bytes where encrypted records belong: "wrong version number" at the client."""
    server.read_request(conn)
    write_raw(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    server.hold(10)


def a_fatal_tls_alert(conn: socket.socket, server: TinyServer) -> None:
    server.read_request(conn)
    write_raw(conn, FATAL_ALERT)
    server.hold(10)


@pytest.mark.parametrize(
    "handler", [garbage_in_the_tls_stream, a_fatal_tls_alert], ids=["garbage", "alert"]
)
def test_a_tls_stream_broken_after_the_request_was_read_leaves_it_in_doubt(
    certificate: Certificate, handler: Any
) -> None:
    with serving(handler, certificate) as server:
        failure = failure_of(paynet_at(server.url, certificate))
        assert server.requests == 1
    assert verdict(failure) == (Cause.UNREACHABLE, True)
    assert failure.detail == "TLS stream broken after the request was written"


def reset_after_reading(conn: socket.socket, server: TinyServer) -> None:
    server.read_request(conn)
    reset(conn)


def close_after_reading(conn: socket.socket, server: TinyServer) -> None:
    server.read_request(conn)
    conn.close()


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
@pytest.mark.parametrize(
    "handler", [reset_after_reading, close_after_reading], ids=["reset", "closed_with_no_answer"]
)
def test_a_connection_lost_after_the_request_was_read_leaves_it_in_doubt(
    certificate: Certificate, handler: Any, tls: bool
) -> None:
    with serving(handler, certificate if tls else None) as server:
        failure = failure_of(paynet_at(server.url, certificate))
        assert server.requests == 1
    assert failure.maybe_sent is True
    assert failure.cause is Cause.UNREACHABLE
    assert failure.detail.endswith("after the request was written")


def test_a_read_timeout_after_the_request_was_read_leaves_it_in_doubt(
    certificate: Certificate,
) -> None:
    def never_answers(conn: socket.socket, server: TinyServer) -> None:
        server.read_request(conn)
        server.hold(10)

    with serving(never_answers, certificate) as server:
        failure = failure_of(paynet_at(server.url, certificate))
        assert server.requests == 1
    assert verdict(failure) == (Cause.TIMEOUT, True)
    assert failure.detail == "read timeout"


def test_a_body_that_stops_past_the_deadline_leaves_it_in_doubt(
    certificate: Certificate,
) -> None:
    def stops_in_the_body(conn: socket.socket, server: TinyServer) -> None:
        server.read_request(conn)
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"jsonrpc": ')
        server.hold(10)

    with serving(stops_in_the_body, certificate) as server:
        failure = failure_of(paynet_at(server.url, certificate))
        assert server.requests == 1
    assert verdict(failure) == (Cause.TIMEOUT, True)
    assert failure.detail == "read timeout in the body"


def test_a_body_cut_short_leaves_it_in_doubt(certificate: Certificate) -> None:
    def cuts_the_body(conn: socket.socket, server: TinyServer) -> None:
        server.read_request(conn)
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"jsonrpc": ')
        conn.close()

    with serving(cuts_the_body, certificate) as server:
        failure = failure_of(paynet_at(server.url, certificate))
        assert server.requests == 1
    assert verdict(failure) == (Cause.UNREACHABLE, True)
    assert failure.detail == "connection lost in the body"


# Keep-alive: only a fresh connect that is refused proves nothing was sent.


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
def test_a_reused_keep_alive_connection_the_server_drops_under_the_request_leaves_it_in_doubt(
    certificate: Certificate, tls: bool
) -> None:
    """The server closes the idle connection as the next request arrives, without reading it:
    what a client sees when an idle timeout and its request cross on the wire."""

    def answers_once_then_drops(conn: socket.socket, server: TinyServer) -> None:
        answer(conn, server.read_request(conn))
        wait_for_bytes(conn)
        conn.close()  # the request unread: the kernel resets the connection

    with serving(answers_once_then_drops, certificate if tls else None) as server:
        client = paynet_at(server.url, certificate)
        client.call("echo", {}, token="t" * 32)
        failure = failure_of(client)
        assert (server.connections, server.requests) == (1, 1)
    assert failure.maybe_sent is True
    assert failure.cause is Cause.UNREACHABLE
    assert failure.detail.endswith("(on a reused keep-alive connection)")


def test_a_keep_alive_connection_closed_while_idle_is_not_reused_a_refused_reconnect_sends_nothing(
    certificate: Certificate,
) -> None:
    closed = threading.Event()

    def answers_once_then_goes_away(conn: socket.socket, server: TinyServer) -> None:
        answer(conn, server.read_request(conn))
        server.stop_listening()
        conn.close()
        closed.set()

    with serving(answers_once_then_goes_away, certificate) as server:
        client = paynet_at(server.url, certificate)
        client.call("echo", {}, token="t" * 32)
        assert closed.wait(10)
        failure = failure_of(client)
        assert (server.connections, server.requests) == (1, 1)
    assert verdict(failure) == (Cause.UNREACHABLE, False)
    assert failure.detail == "connection refused"


# The login goes through the same translation, and keeps its own meaning.


def test_a_login_whose_tls_stream_breaks_after_the_request_fails_as_unreachable(
    certificate: Certificate,
) -> None:
    with serving(garbage_in_the_tls_stream, certificate) as server:
        with pytest.raises(LoginFailure) as caught:
            paynet_at(server.url, certificate).login()
        assert server.requests == 1
    assert caught.value.cause is Cause.UNREACHABLE
    assert not caught.value.permanent
