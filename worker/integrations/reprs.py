"""What Flower and ``celery events`` show of an ``integration.call``'s arguments: where it
goes, never what it carries (the query and the body may hold personal or payment data)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.summary import short


def integration_repr(kwargs: Mapping[str, Any]) -> str:
    """``{'integration': ..., 'method': ..., 'path': ..., 'json': '<n fields>'}``."""
    shown: dict[str, Any] = {
        "integration": short(kwargs.get("integration")),
        "method": short(kwargs.get("method", "GET")),
        "path": short(kwargs.get("path")),
    }
    if kwargs.get("idempotency_key") is not None:
        shown["idempotency_key"] = short(kwargs["idempotency_key"])
    query = kwargs.get("query")
    if isinstance(query, dict):
        shown["query"] = f"<{len(query)} fields>"
    body = kwargs.get("json")
    if isinstance(body, dict):
        shown["json"] = f"<{len(body)} fields>"
    elif body is not None:
        shown["json"] = f"<{type(body).__name__}>"
    wait = kwargs.get("_wait")
    if isinstance(wait, dict):
        shown["waiting_for_generation"] = wait.get("stale_generation")
    return repr(shown)
