"""Judging Paynet's answers without I/O: the corpus of bad answers, the login's causes, and
arbitrary bytes and JSON thrown at the parser (hypothesis). Only documented outcomes come out.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.answers import CORPUS, NO_TOKEN_LOGINS, BadAnswer
from worker.core.causes import Cause
from worker.core.redaction import MASK, register_secret
from worker.paynet import jsonrpc
from worker.paynet.failures import HttpAnswer, LoginFailure
from worker.paynet.verdicts import judge_login

REQUEST_ID = 41


def answer(status: int, body: bytes) -> HttpAnswer:
    return HttpAnswer(status, body, elapsed=0.01)


@pytest.mark.parametrize("bad", CORPUS, ids=lambda bad: bad.name)
def test_every_kind_of_bad_answer_is_refused_by_the_parser(bad: BadAnswer) -> None:
    with pytest.raises(jsonrpc.MalformedAnswer) as caught:
        jsonrpc.parse_answer(bad.body(REQUEST_ID), REQUEST_ID)
    assert caught.value.reason


@pytest.mark.parametrize("bad", CORPUS + NO_TOKEN_LOGINS, ids=lambda bad: bad.name)
def test_every_kind_of_bad_login_answer_fails_with_its_cause(bad: BadAnswer) -> None:
    with pytest.raises(LoginFailure) as caught:
        judge_login(answer(bad.status, bad.body(REQUEST_ID)), REQUEST_ID)
    assert caught.value.cause.value == bad.login_cause
    assert not caught.value.permanent


def test_the_corpus_holds_at_least_fifteen_kinds_for_the_login_and_for_resources() -> None:
    assert len({bad.name for bad in CORPUS}) >= 15
    # Whatever Paynet (or a proxy) answered, the request reached it: never "nothing was sent".
    assert {bad.resource_error for bad in CORPUS} == {"MalformedResponse"}


def test_a_json_rpc_error_to_the_login_refuses_the_credentials_whatever_the_status() -> None:
    body = b'{"jsonrpc":"2.0","id":41,"error":{"code":-10000,"message":"user invalid"}}'
    for status in (200, 401, 500):
        with pytest.raises(LoginFailure) as caught:
            judge_login(answer(status, body), REQUEST_ID)
        assert caught.value.cause is Cause.REFUSED
        assert caught.value.permanent
        assert "-10000 user invalid" in caught.value.detail


def test_a_login_error_code_configured_as_transient_is_not_a_refusal() -> None:
    body = b'{"jsonrpc":"2.0","id":41,"error":{"code":-32000,"message":"busy"}}'
    with pytest.raises(LoginFailure) as caught:
        judge_login(answer(200, body), REQUEST_ID, frozenset({-32000}))
    assert caught.value.cause is Cause.LOGIN_ERROR
    assert not caught.value.permanent


def test_a_login_answer_with_a_token_gives_the_token() -> None:
    body = b'{"jsonrpc":"2.0","id":41,"result":{"userId":56530,"token":"RV5LwDHw"}}'
    assert judge_login(answer(200, body), REQUEST_ID) == "RV5LwDHw"


def test_a_long_refusal_message_is_cut_short_in_the_detail() -> None:
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 41, "error": {"code": -10000, "message": "x" * 10_000}}
    ).encode()
    with pytest.raises(LoginFailure) as caught:
        judge_login(answer(200, body), REQUEST_ID)
    assert len(caught.value.detail) < 300


def test_amounts_stay_exact_decimals() -> None:
    body = b'{"jsonrpc":"2.0","id":41,"result":{"amount":15000.10,"fee":0.1,"count":3}}'
    parsed = jsonrpc.parse_answer(body, REQUEST_ID)
    assert parsed == jsonrpc.RpcResult(
        {"amount": Decimal("15000.10"), "fee": Decimal("0.1"), "count": 3}
    )


# Arbitrary input: only an Answer or MalformedAnswer may come out of the parser, only a token
# or a LoginFailure out of the login's judge. Anything else would crash a worker.

_keys = st.sampled_from(["jsonrpc", "id", "result", "error", "code", "message", "data", "token"])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["2.0", "1.0", 1, 41, -9999, -10000])
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_keys | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
_near_answers = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "2", None, 2.0]),
        "id": st.sampled_from([41, 41.0, "41", None, True, 42]),
        "result": _json,
        "error": st.fixed_dictionaries(
            {},
            optional={
                "code": st.sampled_from([-9999, -10000, "x", 1.5, None, True]),
                "message": st.sampled_from(["m", 1, None]),
                "data": _json,
            },
        )
        | _json,
    },
)


def _judge(body: bytes) -> Any:
    try:
        return jsonrpc.parse_answer(body, REQUEST_ID)
    except jsonrpc.MalformedAnswer as exc:
        assert isinstance(exc.reason, str) and exc.reason
        return exc


def _judge_login(status: int, body: bytes) -> Any:
    try:
        token = judge_login(answer(status, body), REQUEST_ID)
    except LoginFailure as failure:
        assert failure.cause in {
            Cause.MALFORMED,
            Cause.HTTP_ERROR,
            Cause.REFUSED,
            Cause.NO_TOKEN,
        }
        return failure
    assert isinstance(token, str) and token.strip()
    return token


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_an_answer_or_malformed_answer(body: bytes) -> None:
    outcome = _judge(body)
    assert isinstance(outcome, jsonrpc.RpcResult | jsonrpc.RpcError | jsonrpc.MalformedAnswer)
    _judge_login(200, body)


@settings(max_examples=400, deadline=None)
@given(_json | _near_answers, st.sampled_from([200, 400, 502]))
def test_arbitrary_json_gives_an_answer_or_malformed_answer(document: Any, status: int) -> None:
    body = json.dumps(document).encode()
    outcome = _judge(body)
    if isinstance(outcome, jsonrpc.RpcResult | jsonrpc.RpcError):
        assert isinstance(document, dict)
        assert document["jsonrpc"] == "2.0"
        assert type(document["id"]) is int and document["id"] == REQUEST_ID
        assert ("result" in document) != ("error" in document)
    if isinstance(outcome, jsonrpc.RpcError):
        assert type(outcome.code) is int and isinstance(outcome.message, str)
    _judge_login(status, body)


def test_a_login_error_that_echoes_the_password_is_redacted_before_anyone_keeps_it() -> None:
    register_secret("pw-echoed-back-9f3k")
    body = b'{"jsonrpc":"2.0","id":7,"error":{"code":-10000,"message":"bad pw-echoed-back-9f3k"}}'
    with pytest.raises(LoginFailure) as caught:
        judge_login(answer(200, body), 7)
    assert "pw-echoed-back-9f3k" not in caught.value.detail
    assert MASK in caught.value.detail


def test_a_redirect_is_refused_by_name_and_never_parsed() -> None:
    redirect = HttpAnswer(307, b'{"jsonrpc":"2.0","id":7,"result":{"token":"T"}}', 0.01, "x:1")
    with pytest.raises(LoginFailure) as caught:
        judge_login(redirect, 7)
    assert caught.value.cause.value == "http_error"
    assert "HTTP 307, a redirect to x:1, not followed" in caught.value.detail
