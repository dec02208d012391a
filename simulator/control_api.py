"""The control interface under /_control/: tests in other processes steer the simulator here."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .faults import Fault, make_fault
from .state import SimulatorState

CONTROL_PREFIX = "/_control/"

_FAULT_FIELDS = frozenset(
    {
        "target",
        "kind",
        "count",
        "delay",
        "status",
        "body",
        "body_base64",
        "content_type",
        "location",
    }
)


class ControlError(ValueError):
    """A control request the simulator cannot follow; answered with HTTP 400."""


def handle_control(state: SimulatorState, verb: str, path: str, body: bytes) -> tuple[int, Any]:
    """Run one control request; return the HTTP status and the JSON answer."""
    route = path[len(CONTROL_PREFIX) :].strip("/")
    try:
        data = _object(body)
        if verb == "GET":
            return _get(state, route)
        if verb == "POST":
            return _post(state, route, data)
    except ValueError as exc:
        return 400, {"error": str(exc)}
    return 405, {"error": f"method {verb} not allowed on {path}"}


def _object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ControlError(f"control body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError("control body must be a JSON object")
    return data


def _not_found(route: str) -> tuple[int, Any]:
    return 404, {"error": f"unknown control endpoint {route!r}"}


def _get(state: SimulatorState, route: str) -> tuple[int, Any]:
    if route == "stats":
        return 200, state.stats()
    if route == "tokens":
        return 200, state.issued_tokens()
    if route == "config":
        return 200, state.config.as_dict()
    if route == "faults":
        return 200, state.faults()
    if route == "health":
        return 200, {"ok": True}
    return _not_found(route)


def _post(state: SimulatorState, route: str, data: dict[str, Any]) -> tuple[int, Any]:
    if route == "revoke":
        username = data.get("username")
        if username is not None and not isinstance(username, str):
            raise ControlError("'username' must be a string")
        return 200, {"revoked": state.revoke(username)}
    if route == "config":
        return 200, state.configure(**data).as_dict()
    if route == "fault":
        state.inject_fault(_fault(data))
        return 200, {"ok": True}
    if route == "clear_faults":
        return 200, {"cleared": state.clear_faults()}
    if route == "reset":
        state.reset()
        return 200, {"ok": True}
    return _not_found(route)


def _fault(data: dict[str, Any]) -> Fault:
    unknown = set(data) - _FAULT_FIELDS
    if unknown:
        raise ControlError(f"unknown fault field(s): {sorted(unknown)}")
    fields = dict(data)
    encoded = fields.pop("body_base64", None)
    if encoded is not None:
        try:
            fields["body"] = base64.b64decode(encoded, validate=True)
        except (binascii.Error, TypeError):
            raise ControlError("'body_base64' must be base64") from None
    if "target" not in fields or "kind" not in fields:
        raise ControlError("a fault needs 'target' and 'kind'")
    return make_fault(**fields)
