"""What a bearer API's answers mean, decided from plain values: no I/O.

``judge_token_answer`` takes the token and its lifetime out of a token endpoint's answer, or
says why there is none, as a ``LoginFailure`` with the same cause codes Paynet's login uses
(a refusal of the credentials is ``refused``, permanent; the rest are transient).
``is_rejection`` says whether a resource's answer refused the token; ``answer_value`` is what
the caller gets of any other answer.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

from worker.core.causes import Cause
from worker.core.logins import LoginFailure
from worker.integration_settings import Rejection, TokenEndpoint
from worker.integrations.expiry import ExpiryUnreadable, lifetime, member
from worker.paynet.failures import HttpAnswer
from worker.settings import EXPIRY_LEEWAY

# An OAuth2 token endpoint answers a refused client 400 or 401 (RFC 6749 section 5.2); 403 is
# the same refusal from endpoints of other designs. Logging in again would not help.
REFUSING_STATUSES = frozenset({400, 401, 403})
ERROR_CODE_LIMIT = 64  # the ``error`` member of a refusal is a code, not free text
MAX_LIFETIME = 366 * 86400.0
_TOKEN = re.compile(r"^[\x21-\x7e]+$")


def parse_json(body: bytes) -> Any:
    """The body as JSON, or ``ValueError``."""
    return json.loads(body.decode("utf-8"))


def judge_token_answer(
    answer: HttpAnswer, endpoint: TokenEndpoint, now: datetime
) -> tuple[str, float | None]:
    """The token and its lifetime in seconds (None: the answer does not say)."""
    body = _object(answer)
    token = member(body, endpoint.token_field)
    if not isinstance(token, str) or not token:
        raise LoginFailure(Cause.NO_TOKEN, f"the answer has no token at {endpoint.token_field}")
    if _TOKEN.match(token) is None:
        # It could not go in a header: every call would fail without reaching the API.
        raise LoginFailure(
            Cause.MALFORMED, f"the token at {endpoint.token_field} is not printable ASCII"
        )
    return token, _life(body, token, endpoint, now)


def _object(answer: HttpAnswer) -> dict[str, Any]:
    """The answer's JSON object, or the failure its status or body says."""
    status = answer.status
    if status in REFUSING_STATUSES:
        raise LoginFailure(Cause.REFUSED, f"HTTP {status}{_error_code(answer.body)}")
    if answer.redirect_to is not None:
        raise LoginFailure(Cause.HTTP_ERROR, f"HTTP {status} redirect to {answer.redirect_to}")
    if not 200 <= status < 300:
        raise LoginFailure(Cause.HTTP_ERROR, f"HTTP {status}")
    try:
        body = parse_json(answer.body)
    except ValueError:
        raise LoginFailure(Cause.MALFORMED, f"HTTP {status}, the answer is not JSON") from None
    if not isinstance(body, dict):
        raise LoginFailure(Cause.MALFORMED, f"HTTP {status}, the answer is not a JSON object")
    return body


def _life(body: dict[str, Any], token: str, endpoint: TokenEndpoint, now: datetime) -> float | None:
    try:
        life = lifetime(body, token, endpoint.expiry, now)
    except ExpiryUnreadable as exc:
        raise LoginFailure(Cause.MALFORMED, str(exc)) from None
    if life is None:
        return None
    if not math.isfinite(life):
        raise LoginFailure(Cause.MALFORMED, "the token's expiry is not a finite time")
    if life <= EXPIRY_LEEWAY:
        # Never used (a token this close to its expiry is not), so every login would be wasted.
        raise LoginFailure(
            Cause.MALFORMED,
            f"the token lives {max(life, 0):.0f} s, not more than the {EXPIRY_LEEWAY:g} s before "
            "its expiry at which the gateway stops using it (check the expiry's UTC offset)",
        )
    return min(life, MAX_LIFETIME)  # logged in again after a year at the latest


def _error_code(body: bytes) -> str:
    try:
        error = member(parse_json(body), "error")
    except ValueError:
        return ""
    if isinstance(error, str) and error.replace("_", "").isalnum():
        return f" ({error[:ERROR_CODE_LIMIT]})"
    return ""


def is_rejection(status: int, body: bytes, rejection: Rejection) -> bool:
    """The token was refused: by status, or by a member's value the configuration names."""
    if status in rejection.statuses:
        return True
    if rejection.member is None or not rejection.codes:
        return False
    try:
        value = member(parse_json(body), rejection.member)
    except ValueError:
        return False
    return (
        value is not None and not isinstance(value, dict | list) and str(value) in rejection.codes
    )


def answer_value(status: int, body: bytes, content_type: str | None) -> dict[str, Any]:
    """``{"status": ..., "json": ...}`` for a JSON answer, ``{"status": ..., "text": ...}``
    for any other; an error status is an answer like any other, the caller's to judge."""
    if body and "json" in (content_type or "").lower():
        try:
            return {"status": status, "json": parse_json(body)}
        except ValueError:
            pass
    return {"status": status, "text": body.decode("utf-8", errors="replace")}
