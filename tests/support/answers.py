"""A corpus of bad answers Paynet (or a proxy in front of it) might send, and what each means.

Each kind says what a login answered that way fails with (the cause code) and what a resource
call answered that way fails with (the exception class). Bodies are built for a request id, so
that a body is wrong in exactly the way its name says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from simulator import Simulator
from worker.paynet.jsonrpc import MAX_BODY_BYTES

HTML = b"<!DOCTYPE html><html><head><title>Bad Gateway</title></head><body>nginx</body></html>"
LOGIN_RESULT = '{"agentId":"17627","terminalId":"4027096","userId":56530,"token":"T0kEn"}'


@dataclass(frozen=True)
class BadAnswer:
    name: str
    status: int
    body: Callable[[int], bytes]
    login_cause: str  # the cause code of a login answered this way
    resource_error: str  # the exception class of a resource call answered this way
    content_type: str = "application/json"


def _text(template: str) -> Callable[[int], bytes]:
    return lambda request_id: template.replace("ID", str(request_id)).encode()


def _valid(request_id: int) -> bytes:
    return _text('{"jsonrpc":"2.0","id":ID,"result":' + LOGIN_RESULT + "}")(request_id)


def _truncated(request_id: int) -> bytes:
    body = _valid(request_id)
    return body[: len(body) // 2]


def _oversized(request_id: int) -> bytes:
    padding = "x" * MAX_BODY_BYTES
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {"pad": padding}}).encode()


def _not_utf8(request_id: int) -> bytes:
    return _text('{"jsonrpc":"2.0","id":ID,"result":{"name":"')(request_id) + b'\xff\xfe"}}'


MALFORMED = "malformed"
HTTP_ERROR = "http_error"
NO_TOKEN = "no_token"
BAD = "MalformedResponse"


CORPUS: tuple[BadAnswer, ...] = (
    BadAnswer("html_with_200", 200, lambda _: HTML, MALFORMED, BAD, "text/html"),
    BadAnswer("html_with_502", 502, lambda _: HTML, HTTP_ERROR, BAD, "text/html"),
    BadAnswer("plain_text_500", 500, lambda _: b"Internal Server Error", HTTP_ERROR, BAD),
    BadAnswer("json_not_json_rpc_503", 503, _text('{"status":"down"}'), HTTP_ERROR, BAD),
    BadAnswer("empty_body", 200, lambda _: b"", MALFORMED, BAD),
    BadAnswer("whitespace_body", 200, lambda _: b" \r\n ", MALFORMED, BAD),
    BadAnswer("truncated_body", 200, _truncated, MALFORMED, BAD),
    BadAnswer(
        "top_level_array", 200, _text('[{"jsonrpc":"2.0","id":ID,"result":1}]'), MALFORMED, BAD
    ),
    BadAnswer("top_level_string", 200, _text('"ok"'), MALFORMED, BAD),
    BadAnswer("top_level_null", 200, _text("null"), MALFORMED, BAD),
    BadAnswer("no_jsonrpc_member", 200, _text('{"id":ID,"result":{}}'), MALFORMED, BAD),
    BadAnswer("jsonrpc_1_0", 200, _text('{"jsonrpc":"1.0","id":ID,"result":{}}'), MALFORMED, BAD),
    BadAnswer("neither_result_nor_error", 200, _text('{"jsonrpc":"2.0","id":ID}'), MALFORMED, BAD),
    BadAnswer(
        "both_result_and_error",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"result":{},"error":{"code":1,"message":"m"}}'),
        MALFORMED,
        BAD,
    ),
    BadAnswer(
        "wrong_id",
        200,
        lambda i: _valid(i).replace(f'"id":{i}'.encode(), b'"id":7777'),
        MALFORMED,
        BAD,
    ),
    BadAnswer("null_id", 200, _text('{"jsonrpc":"2.0","id":null,"result":{}}'), MALFORMED, BAD),
    BadAnswer("no_id", 200, _text('{"jsonrpc":"2.0","result":{}}'), MALFORMED, BAD),
    BadAnswer("string_id", 200, _text('{"jsonrpc":"2.0","id":"ID","result":{}}'), MALFORMED, BAD),
    BadAnswer("float_id", 200, _text('{"jsonrpc":"2.0","id":ID.0,"result":{}}'), MALFORMED, BAD),
    BadAnswer(
        "error_without_code",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"error":{"message":"unauthorized"}}'),
        MALFORMED,
        BAD,
    ),
    BadAnswer(
        "error_code_as_string",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"error":{"code":"-9999","message":"unauthorized"}}'),
        MALFORMED,
        BAD,
    ),
    BadAnswer(
        "error_without_message",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"error":{"code":-10000}}'),
        MALFORMED,
        BAD,
    ),
    BadAnswer(
        "error_as_string", 200, _text('{"jsonrpc":"2.0","id":ID,"error":"no"}'), MALFORMED, BAD
    ),
    BadAnswer(
        "nan_number",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"result":{"amount":NaN,"token":"T"}}'),
        MALFORMED,
        BAD,
    ),
    BadAnswer(
        "infinity_number",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"result":{"amount":-Infinity,"token":"T"}}'),
        MALFORMED,
        BAD,
    ),
    BadAnswer(
        "duplicate_keys",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"result":{"token":"A"},"result":{"token":"B"}}'),
        MALFORMED,
        BAD,
    ),
    BadAnswer(
        "integer_beyond_digit_limit",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"result":{"amount":' + "9" * 5000 + "}}"),
        MALFORMED,
        BAD,
    ),
    BadAnswer("nested_too_deeply", 200, lambda _: b"[" * 100_000, MALFORMED, BAD),
    BadAnswer("oversized_body", 200, _oversized, MALFORMED, BAD),
    BadAnswer("not_utf8", 200, _not_utf8, MALFORMED, BAD),
)

# Valid JSON-RPC for a resource (a result is a result), but no token for a login.
NO_TOKEN_LOGINS: tuple[BadAnswer, ...] = (
    BadAnswer(
        "login_result_without_token",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"result":{"userId":1}}'),
        NO_TOKEN,
        "",
    ),
    BadAnswer(
        "login_token_empty",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"result":{"token":"  "}}'),
        NO_TOKEN,
        "",
    ),
    BadAnswer(
        "login_token_a_number",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"result":{"token":123}}'),
        NO_TOKEN,
        "",
    ),
    BadAnswer(
        "login_token_null",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"result":{"token":null}}'),
        NO_TOKEN,
        "",
    ),
    BadAnswer(
        "login_result_a_string",
        200,
        _text('{"jsonrpc":"2.0","id":ID,"result":"T0kEn"}'),
        NO_TOKEN,
        "",
    ),
    BadAnswer(
        "login_result_null", 200, _text('{"jsonrpc":"2.0","id":ID,"result":null}'), NO_TOKEN, ""
    ),
)


ANY_ID = 1  # the raw fault cannot know the request's id; every kind here is bad whatever it is


def serve(simulator: Simulator, target: str, bad: BadAnswer) -> None:
    simulator.inject_fault(
        target,
        "raw",
        count=1,
        status=bad.status,
        body=bad.body(ANY_ID),
        content_type=bad.content_type,
    )
