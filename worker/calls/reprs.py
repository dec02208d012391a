"""What Flower, ``celery events`` and the worker's event stream show of a task's arguments.

Celery puts ``kwargsrepr`` in the task's events in place of the real kwargs. For ``paynet.call``
it names the method, profile and idempotency key, the things an operator looks for, and leaves
``params`` out: they hold the payment's details (phone numbers, amounts), and the gateway's
token never is in them anyway. Celery forgets ``kwargsrepr`` on a retry, so every place where the
gateway itself publishes passes it again; producers pass their own (docs/producer-guide.md:
what monitoring tools see).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.summary import short, summary


def call_repr(kwargs: Mapping[str, Any]) -> str:
    """``{'method': ..., 'profile': ..., 'idempotency_key': ..., 'params': '<n fields>'}``."""
    shown: dict[str, Any] = {
        "method": short(kwargs.get("method")),
        "profile": short(kwargs.get("profile", "default")),
    }
    if kwargs.get("idempotency_key") is not None:
        shown["idempotency_key"] = short(kwargs["idempotency_key"])
    if kwargs.get("path") is not None:
        shown["path"] = short(kwargs["path"])
    params = kwargs.get("params")
    if isinstance(params, dict):
        shown["params"] = f"<{len(params)} fields>"
    wait = kwargs.get("_wait")
    if isinstance(wait, dict):
        shown["waiting_for_generation"] = wait.get("stale_generation")
    if kwargs.get("_ledger") is not None:
        shown["waiting_on_ledger"] = True
    return repr(shown)


def refresh_repr(kwargs: Mapping[str, Any]) -> str:
    """The refresh task's arguments hold no secret: profile, generation, attempt, force."""
    keys = ("profile", "stale_generation", "attempt", "force")
    return repr({key: kwargs[key] for key in keys if key in kwargs})


def result_summary(value: Any) -> str:
    """``<result: transactionId=... status=..., 5 fields>``; lists and scalars by their type only.

    The full result stays in the result backend, for the producer; Celery's "succeeded" line and
    the task-succeeded event (what Flower shows) get this instead. A failure's data is summed up
    the same way (``PaynetRpcError``'s repr).
    """
    return summary(value, "result")
