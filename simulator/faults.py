"""Faults the simulator injects on command, and the answers they produce."""

from __future__ import annotations

import dataclasses
import http
from dataclasses import dataclass
from typing import Any

TARGETS = ("login", "resource")

# Faults that replace the answer: the request never reaches the simulated application.
REPLACING_KINDS = frozenset({"down", "http_500", "http_error", "html_200", "empty_body", "raw"})
# Faults applied to a normally processed request (before, around or after its answer).
PROCESSING_KINDS = frozenset(
    {"slow", "truncated_json", "wrong_id", "refused_credentials", "no_token", "execute_then_hang"}
)
FAULT_KINDS = REPLACING_KINDS | PROCESSING_KINDS
LOGIN_ONLY_KINDS = frozenset({"refused_credentials", "no_token"})
RESOURCE_ONLY_KINDS = frozenset({"execute_then_hang"})
# Only a payment can be executed and then hang; other methods pass the fault by.
EXECUTING_METHODS = frozenset({"performTransaction"})

DEFAULT_DELAY = 5.0
_DEFAULT_STATUS = {"http_500": 500, "http_error": 503}

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>"
    b"<body><h1>Service temporarily unavailable</h1>"
    b"<p>Please try again later.</p></body></html>\n"
)


@dataclass(frozen=True)
class Fault:
    """One injected fault. ``count`` None means until cleared."""

    target: str
    kind: str
    count: int | None = None
    delay: float = 0.0
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    location: str | None = None  # a Location header: how a redirect is played

    def applies_to(self, target: str, method: str | None) -> bool:
        """Whether this fault hits a request to ``target`` calling ``method``."""
        if target != self.target:
            return False
        return self.kind not in RESOURCE_ONLY_KINDS or method in EXECUTING_METHODS

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description, for the control interface."""
        data = dataclasses.asdict(self)
        data["body"] = self.body.decode("utf-8", errors="replace")
        return data


@dataclass(frozen=True)
class CannedAnswer:
    """A fixed HTTP answer served instead of the JSON-RPC one."""

    status: int
    content_type: str
    body: bytes
    location: str | None = None


def _status(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError("fault 'status' must be an HTTP status code")
    return value


def _check_where(target: str, kind: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"fault 'target' must be one of {TARGETS}")
    if kind not in FAULT_KINDS:
        raise ValueError(f"fault 'kind' must be one of {sorted(FAULT_KINDS)}")
    if kind in LOGIN_ONLY_KINDS and target != "login":
        raise ValueError(f"fault {kind!r} applies to target 'login' only")
    if kind in RESOURCE_ONLY_KINDS and target != "resource":
        raise ValueError(f"fault {kind!r} applies to target 'resource' only")


def make_fault(
    target: str,
    kind: str,
    count: int | None = None,
    delay: float | None = None,
    status: int | None = None,
    body: str | bytes | None = None,
    content_type: str | None = None,
    location: str | None = None,
) -> Fault:
    """Validate a fault request and fill in the defaults of its kind."""
    _check_where(target, kind)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError("fault 'count' must be a positive integer or null")
    if delay is None:
        delay = DEFAULT_DELAY if kind in {"slow", "execute_then_hang"} else 0.0
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise ValueError("fault 'delay' must be a non-negative number")
    status = _status(status) if status is not None else _DEFAULT_STATUS.get(kind, 200)
    if isinstance(body, str):
        body = body.encode()
    if body is not None and not isinstance(body, bytes):
        raise ValueError("fault 'body' must be a string")
    if content_type is not None and not isinstance(content_type, str):
        raise ValueError("fault 'content_type' must be a string")
    if location is not None and not isinstance(location, str):
        raise ValueError("fault 'location' must be a string")
    return Fault(
        target=target,
        kind=kind,
        count=count,
        delay=float(delay),
        status=status,
        body=body if body is not None else _default_body(kind, status),
        content_type=content_type or _default_content_type(kind),
        location=location,
    )


def _default_body(kind: str, status: int) -> bytes:
    if kind in {"http_500", "http_error"}:
        try:
            return http.HTTPStatus(status).phrase.encode()
        except ValueError:
            return b"Error"
    if kind == "html_200":
        return HTML_PAGE
    return b""


def _default_content_type(kind: str) -> str:
    if kind in {"http_500", "http_error"}:
        return "text/plain; charset=utf-8"
    if kind == "html_200":
        return "text/html; charset=utf-8"
    return "application/json"


def canned_answer(fault: Fault) -> CannedAnswer | None:
    """The answer a replacing fault serves; None for faults that let the request through."""
    if fault.kind not in REPLACING_KINDS or fault.kind == "down":
        return None
    body = b"" if fault.kind == "empty_body" else fault.body
    return CannedAnswer(fault.status, fault.content_type, body, fault.location)


def truncate(body: bytes) -> bytes:
    """The first half of a valid answer: what a connection cut mid-body leaves."""
    return body[: len(body) // 2]


def wrong_id(request_id: Any) -> Any:
    """An id that differs from the request's, of the same JSON type where possible."""
    if isinstance(request_id, int) and not isinstance(request_id, bool):
        return request_id + 1000
    if request_id is None:
        return 999999
    return f"not-{request_id}"


@dataclass
class _Armed:
    fault: Fault
    remaining: int | None


class FaultBoard:
    """Injected faults, served first-in first-out. Not thread-safe: the state locks around it."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []
        self.served = 0

    def add(self, fault: Fault) -> None:
        """Arm a fault behind those already armed."""
        self._armed.append(_Armed(fault, fault.count))

    def take(self, target: str, method: str | None) -> Fault | None:
        """The fault that hits this request, if any, consuming one of its uses."""
        for index, armed in enumerate(self._armed):
            if not armed.fault.applies_to(target, method):
                continue
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining <= 0:
                    del self._armed[index]
            self.served += 1
            return armed.fault
        return None

    def clear(self) -> int:
        """Disarm every fault; return how many were armed."""
        count = len(self._armed)
        self._armed.clear()
        return count

    def active(self) -> list[dict[str, Any]]:
        """The armed faults with their remaining uses."""
        return [{**armed.fault.as_dict(), "remaining": armed.remaining} for armed in self._armed]
