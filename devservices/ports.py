"""Free TCP ports on the loopback interface.

Embedded servers never use fixed ports, so that several test sessions can run
side by side on one machine without colliding.
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a port the kernel just handed out as free on ``host``.

    The port is released before returning, so another process may still grab
    it; callers that bind it later must be ready to retry with a new one.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def is_listening(host: str, port: int, timeout: float = 0.5) -> bool:
    """Tell whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
