"""Celery shows a task's result on its "succeeded" log line and in the task-succeeded event
(which Flower and ``celery events`` display): for ``paynet.call`` that would be the payment's
fields and amounts. Celery has no setting to replace it, only a size limit, so the worker puts
its own text in: the task marks the value it returns, and the representation Celery asks for
(``celery.app.trace.saferepr``, looked up at each call) becomes that value's short summary.

Only the very object a gateway task marked is summarised (by identity, per thread or greenlet);
every other value is represented as Celery would. The result backend keeps the full value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from celery.app import trace
from celery.utils.saferepr import saferepr as trace_saferepr

from worker.calls.reprs import result_summary

_marked = threading.local()
_original: Callable[..., str] | None = None


def mark(value: Any) -> Any:
    """The task's return value, remembered so that Celery's representation of it is masked."""
    _marked.value = value
    _marked.set = True
    return value


def _masked_saferepr(obj: Any, *args: Any, **kwargs: Any) -> str:
    if getattr(_marked, "set", False) and obj is _marked.value:
        _marked.set, _marked.value = False, None
        return result_summary(obj)
    original = _original or trace_saferepr
    return original(obj, *args, **kwargs)


def install() -> None:
    """Once per worker process, before any task runs (idempotent)."""
    global _original
    if _original is None:
        _original = trace.saferepr
        trace.saferepr = _masked_saferepr
