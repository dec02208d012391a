"""Reading a bearer API's answers: the token, its expiry in each form, refusals, rejections."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from worker.core.causes import Cause
from worker.core.logins import LoginFailure
from worker.integration_settings import Expiry, Rejection, TokenEndpoint
from worker.integrations.answers import answer_value, is_rejection, judge_token_answer
from worker.integrations.expiry import jwt_exp, lifetime
from worker.paynet.failures import HttpAnswer

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


def jwt(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256'})}.{part(claims)}.signature"


def answer(body: object, status: int = 200) -> HttpAnswer:
    return HttpAnswer(status, json.dumps(body).encode(), 0.01)


@pytest.mark.parametrize(
    ("body", "token", "expiry", "expected"),
    [
        ({"expires_in": 3600}, "t", Expiry(), 3600.0),
        ({"expires_in": "120"}, "t", Expiry(), 120.0),
        # Multicard: 17:30 in Tashkent (UTC+5, written without an offset) is 12:30 UTC.
        (
            {"expiry": "2026-12-03 17:30:00"},
            "t",
            Expiry(at_field="expiry", at_utc_offset="+05:00"),
            1800.0,
        ),
        ({"expiry": "2026-12-03 12:30:00"}, "t", Expiry(at_field="expiry"), 1800.0),
        ({}, jwt({"exp": NOW.timestamp() + 900}), Expiry(), 900.0),
        ({}, jwt({"exp": NOW.timestamp() + 900}), Expiry(jwt_exp=False), None),
        ({}, "not-a-jwt", Expiry(), None),
        ({"expires_in": 60, "expiry": "2026-12-03 17:30:00"}, "t", Expiry(at_field="expiry"), 60.0),
    ],
)
def test_the_lifetime_is_read_in_the_configured_order(
    body: dict[str, object], token: str, expiry: Expiry, expected: float | None
) -> None:
    assert lifetime(body, token, expiry, NOW) == expected


def test_a_jwt_without_exp_or_not_base64_has_no_expiry() -> None:
    assert jwt_exp(jwt({"sub": "x"})) is None
    assert jwt_exp("a.%%%.c") is None


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        (answer({"error": "invalid_client"}, 401), Cause.REFUSED),
        (answer({"error": "invalid_grant"}, 400), Cause.REFUSED),
        (answer({}, 503), Cause.HTTP_ERROR),
        (HttpAnswer(200, b"<html>", 0.0), Cause.MALFORMED),
        (answer(["token"]), Cause.MALFORMED),
        (answer({"token_type": "Bearer"}), Cause.NO_TOKEN),
        (answer({"access_token": "t", "expires_in": "soon"}), Cause.MALFORMED),
        (answer({"access_token": "t", "expires_in": 3}), Cause.MALFORMED),  # within the leeway
        (HttpAnswer(302, b"", 0.0, "elsewhere.example"), Cause.HTTP_ERROR),
    ],
)
def test_a_token_answer_without_a_usable_token_is_a_classified_failure(
    reply: HttpAnswer, cause: Cause
) -> None:
    with pytest.raises(LoginFailure) as caught:
        judge_token_answer(reply, TokenEndpoint(), NOW)
    assert caught.value.cause is cause
    assert caught.value.permanent is (cause is Cause.REFUSED)


def test_a_refusal_names_the_error_code_and_never_free_text() -> None:
    with pytest.raises(LoginFailure) as caught:
        judge_token_answer(
            answer({"error": "invalid_client", "error_description": "pw=x"}, 401),
            TokenEndpoint(),
            NOW,
        )
    assert str(caught.value) == "refused: HTTP 401 (invalid_client)"


def test_the_token_is_found_at_a_nested_member() -> None:
    endpoint = TokenEndpoint(token_field="data.token")
    token, life = judge_token_answer(answer({"data": {"token": "abc"}}), endpoint, NOW)
    assert (token, life) == ("abc", None)


@pytest.mark.parametrize(
    ("status", "body", "rejection", "rejected"),
    [
        (401, b"", Rejection(), True),
        (403, b"", Rejection(), False),
        (403, b"", Rejection(statuses=(401, 403)), True),
        (
            200,
            b'{"error": {"code": "TOKEN_EXPIRED"}}',
            Rejection(member="error.code", codes=("TOKEN_EXPIRED",)),
            True,
        ),
        (200, b'{"error": {"code": 7}}', Rejection(member="error.code", codes=(7,)), True),  # type: ignore[arg-type]
        (
            200,
            b'{"error": {"code": "OTHER"}}',
            Rejection(member="error.code", codes=("TOKEN_EXPIRED",)),
            False,
        ),
        (200, b"not json", Rejection(member="error.code", codes=("X",)), False),
    ],
)
def test_a_rejection_is_recognised_by_status_or_by_a_configured_member(
    status: int, body: bytes, rejection: Rejection, rejected: bool
) -> None:
    assert is_rejection(status, body, rejection) is rejected


def test_any_other_answer_is_the_result_json_or_text() -> None:
    assert answer_value(404, b'{"e": 1}', "application/json") == {"status": 404, "json": {"e": 1}}
    assert answer_value(200, b"ok", "text/plain") == {"status": 200, "text": "ok"}


@pytest.mark.parametrize(
    "body",
    [
        {"access_token": "two words", "expires_in": 60},  # could not go in a header
        {"access_token": "t", "expires_in": "inf"},
    ],
)
def test_a_token_that_could_never_be_used_is_a_malformed_login(body: dict[str, object]) -> None:
    with pytest.raises(LoginFailure) as caught:
        judge_token_answer(answer(body), TokenEndpoint(), NOW)
    assert caught.value.cause is Cause.MALFORMED


def test_a_token_for_a_decade_is_renewed_within_a_year() -> None:
    _token, life = judge_token_answer(answer({"access_token": "t", "expires_in": 315_360_000}),
                                      TokenEndpoint(), NOW)  # fmt: skip
    assert life == 366 * 86400
