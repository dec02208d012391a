"""Validating ``integration.call`` arguments: bad input fails here, before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from worker.calls.request import MAX_KEY_LENGTH, json_only
from worker.errors import InvalidRequest
from worker.settings import Integration

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_PATH = re.compile(r"^/[A-Za-z0-9_.~%/:@-]{0,499}$")
KNOWN = frozenset({"integration", "method", "path", "query", "json", "idempotency_key"})
_QUERY_SCALARS = (str, int, float, bool)
# It goes in a header: visible ASCII, spaces inside only (no CR, LF or other control).
_HEADER_VALUE = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")


@dataclass(frozen=True)
class IntegrationRequest:
    integration: str
    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    json: Any = None  # None: no body
    idempotency_key: str | None = None


def parse_request(
    kwargs: Mapping[str, Any], integrations: Mapping[str, Integration]
) -> IntegrationRequest:
    """Turn the task's kwargs into a request, or raise ``InvalidRequest`` naming the argument."""
    unknown = sorted(set(kwargs) - KNOWN)
    if unknown:
        raise InvalidRequest(f"unknown argument(s): {', '.join(unknown)}")
    name = kwargs.get("integration")
    if not isinstance(name, str) or name not in integrations:
        raise InvalidRequest(f"integration: unknown integration {str(name)[:64]!r}")
    method = kwargs.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise InvalidRequest(f"method: one of {', '.join(sorted(METHODS))}")
    path = kwargs.get("path")
    if not isinstance(path, str) or not _PATH.fullmatch(path) or ".." in path:
        raise InvalidRequest("path: required, a path such as /v1/payments (the query apart)")
    body = kwargs.get("json")
    json_only(body, "json")
    return IntegrationRequest(
        name,
        method.upper(),
        path,
        _query(kwargs.get("query")),
        body,
        _key(kwargs.get("idempotency_key"), name, integrations[name]),
    )


def _query(query: Any) -> dict[str, Any]:
    query = {} if query is None else query
    if not isinstance(query, dict):
        raise InvalidRequest(f"query: must be an object, got {type(query).__name__}")
    for key, value in query.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or not all(isinstance(v, _QUERY_SCALARS) for v in values):
            raise InvalidRequest("query: names are strings, values strings or numbers (or lists)")
    return query


def _key(key: Any, name: str, integration: Integration) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"idempotency_key: must be a non-empty string of at most {MAX_KEY_LENGTH} characters"
        )
    if _HEADER_VALUE.match(key) is None:
        raise InvalidRequest(
            "idempotency_key: visible ASCII characters only (it is sent in a header)"
        )
    if integration.idempotency_header is None:
        raise InvalidRequest(
            f"idempotency_key: integration {name!r} has no idempotency_header to send it in"
        )
    return key
