"""When a token issued by a token endpoint expires, read from the answer: pure, no I/O.

In the order the configuration reference gives: ``expires_in`` (seconds, RFC 6749 section 5.1),
an absolute time in a configured member (Multicard's ``expiry``: a local time with no offset),
the JWT's ``exp`` claim (and last the integration's ``policy.ttl``, applied by the refresher).
Whatever is found is a lifetime in seconds from
``now``; the mechanism keeps it with the token and stops using the token ``EXPIRY_LEEWAY``
before it ends.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from worker.integration_settings import Expiry


class ExpiryUnreadable(ValueError):
    """The answer names an expiry the configuration says how to read, but it cannot be read."""


def member(answer: Any, dotted: str) -> Any:
    """``answer["a"]["b"]`` for ``"a.b"``; None where any step is missing."""
    node = answer
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def lifetime(answer: Mapping[str, Any], token: str, expiry: Expiry, now: datetime) -> float | None:
    """Seconds the token lives from ``now`` (aware, UTC), or None when nothing says."""
    if expiry.expires_in_field and (value := member(answer, expiry.expires_in_field)) is not None:
        return _seconds(value, expiry.expires_in_field)
    if expiry.at_field and (value := member(answer, expiry.at_field)) is not None:
        return (_absolute(value, expiry) - now).total_seconds()
    if expiry.jwt_exp and (exp := jwt_exp(token)) is not None:
        return exp - now.timestamp()
    return None  # the integration's ``policy.ttl``, if set, applies


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ExpiryUnreadable(f"{name} is not a number of seconds")
    try:
        seconds = float(value)
    except ValueError:
        raise ExpiryUnreadable(f"{name} is not a number of seconds") from None
    if not seconds > 0:
        raise ExpiryUnreadable(f"{name} is not a positive number of seconds")
    return seconds


def _absolute(value: Any, expiry: Expiry) -> datetime:
    if not isinstance(value, str):
        raise ExpiryUnreadable(f"{expiry.at_field} is not a time")
    try:
        moment = datetime.strptime(value, expiry.at_format)
    except ValueError:
        raise ExpiryUnreadable(
            f"{expiry.at_field} does not match the format {expiry.at_format!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=expiry.zone())


def jwt_exp(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without checking its signature (that is the API's
    business; the gateway only wants to know when to log in again); None if not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)
