"""JSON-RPC 2.0 messages and a codec that keeps decimal amounts exact."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
UNAUTHORIZED = -9999
USER_INVALID = -10000
TRANSACTION_NOT_FOUND = -12007


def loads(body: bytes) -> Any:
    """Parse JSON with non-integers as Decimal, so 12345.67 stays 12345.67."""
    return json.loads(body, parse_float=Decimal)


def dumps(value: Any) -> bytes:
    """Serialize JSON writing Decimal as a bare number, exactly as it was read."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts).encode()


def _encode(value: Any, out: list[str]) -> None:
    if value is None or isinstance(value, bool | int | float | str):
        out.append(json.dumps(value, allow_nan=False))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot write {value} as a JSON number")
        out.append(str(value))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def result(request_id: Any, value: Any) -> dict[str, Any]:
    """A success answer."""
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


def error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    """An error answer."""
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
