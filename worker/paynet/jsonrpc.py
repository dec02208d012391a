"""JSON-RPC 2.0 bodies: building requests and judging answers, strictly and without I/O.

Answers are parsed with ``Decimal`` for every non-integer number so that amounts stay exact, and
NaN, Infinity and duplicate keys are refused: a payment answer that could be read two ways is
not an answer.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

MAX_BODY_BYTES = 1024 * 1024

TokenPlacement = Literal["top_level", "params"]


class MalformedAnswer(Exception):
    """The body is not a JSON-RPC 2.0 answer to our request; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RpcResult:
    value: Any


@dataclass(frozen=True)
class RpcError:
    code: int
    message: str
    data: Any = None


Answer = RpcResult | RpcError


def build_request(
    method: str,
    params: dict[str, Any],
    request_id: int,
    token: str | None = None,
    placement: TokenPlacement = "top_level",
) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if token is not None and placement == "params":
        body["params"] = {**params, "token": token}
    else:
        body["params"] = dict(params)
        if token is not None:
            body["token"] = token
    return body


def encode(body: Any) -> bytes:
    """Serialise with every ``Decimal`` written digit for digit, never through a float."""
    decimals: list[str] = []
    nonce = secrets.token_hex(8)

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueError("NaN and Infinity are not JSON numbers")
            decimals.append(str(value))
            return f"\x00{nonce}:{len(decimals) - 1}\x00"
        if isinstance(value, dict):
            return {key: mark(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [mark(item) for item in value]
        return value

    text = json.dumps(mark(body), separators=(",", ":"), allow_nan=False)
    if decimals:
        marker = re.compile(r'"\\u0000' + nonce + r':(\d+)\\u0000"')
        text = marker.sub(lambda m: decimals[int(m.group(1))], text)
    return text.encode("utf-8")


def _refuse_constant(name: str) -> Any:
    raise MalformedAnswer(f"non-standard JSON constant {name}")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedAnswer(f"duplicate key {key!r}")
        result[key] = value
    return result


def decode(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise MalformedAnswer(f"body larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise MalformedAnswer("empty body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedAnswer("body is not UTF-8") from None
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_refuse_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise MalformedAnswer(f"not JSON ({exc.msg} at position {exc.pos})") from None
    except RecursionError:
        raise MalformedAnswer("JSON nested too deeply") from None
    except ValueError:  # an integer beyond Python's digit limit, a number Decimal cannot take
        raise MalformedAnswer("a number in the body cannot be read exactly") from None


def parse_answer(body: bytes, request_id: int) -> Answer:
    """Judge ``body`` as the answer to request ``request_id``; raise ``MalformedAnswer``."""
    document = decode(body)
    if not isinstance(document, dict):
        raise MalformedAnswer(f"top level is a {_kind(document)}, not an object")
    if document.get("jsonrpc") != "2.0":
        raise MalformedAnswer('"jsonrpc" is not "2.0"')
    if "id" not in document:
        raise MalformedAnswer('no "id"')
    answer_id = document["id"]
    if type(answer_id) is not int or answer_id != request_id:  # 1.0 and true are not 1
        raise MalformedAnswer(f'"id" does not match the request ({request_id})')
    has_result, has_error = "result" in document, "error" in document
    if has_result == has_error:
        raise MalformedAnswer('needs exactly one of "result" and "error"')
    if has_result:
        return RpcResult(document["result"])
    return _parse_error(document["error"])


def _parse_error(error: Any) -> RpcError:
    if not isinstance(error, dict):
        raise MalformedAnswer('"error" is not an object')
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, int) or isinstance(code, bool):
        raise MalformedAnswer('"error.code" is not an integer')
    if not isinstance(message, str):
        raise MalformedAnswer('"error.message" is not a string')
    return RpcError(code, message, error.get("data"))


def _kind(value: Any) -> str:
    names = {list: "array", str: "string", int: "number", Decimal: "number", bool: "boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
