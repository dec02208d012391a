"""The gateway's Celery app as the command line's producer: every wait within the deadline.

Celery's and kombu's defaults, and ``celeryconfig``'s, suit a worker, which must ride out a
Redis restart: the result store is reconnected 20 times a second apart, a publish is retried 30
times. A command given ``--timeout 5`` gives up after about five seconds instead: one connection
attempt (connecting, or waiting for an answer) takes a third of the deadline (1 to 3 s), as
many retries as fit in it follow, and the wait for the result gets what is left.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as ResultTimeout
from kombu.exceptions import OperationalError as BrokerError

from worker.cli.common import FAILED, CommandError
from worker.config import get_infrastructure, out_of_reach
from worker.core.outages import REDIS_ERRORS

STORE_ERRORS: tuple[type[Exception], ...] = (RuntimeError, *REDIS_ERRORS)  # see sending()
RETRY_INTERVAL = 0.25  # between two connection attempts
LONGEST_ATTEMPT = 3.0  # one connection attempt, at most
SHORTEST_ATTEMPT = 1.0  # at least: a result's wait polls the store in steps of up to a second


class Deadline:
    """A command's time budget, on the monotonic clock."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def passed(self) -> bool:
        return self.left() == 0.0


def producer_settings(seconds: float) -> dict[str, Any]:
    """Celery settings that bound sending and reading results to about ``seconds``."""
    attempt = min(LONGEST_ATTEMPT, max(SHORTEST_ATTEMPT, seconds / 3))
    retries = max(0, int(seconds / (attempt + RETRY_INTERVAL)) - 1)
    steps = {"interval_start": 0, "interval_step": RETRY_INTERVAL, "interval_max": RETRY_INTERVAL}
    return {
        # The broker: each connection attempt, all of them together, and a publish's retries.
        "broker_connection_timeout": attempt,
        "broker_transport_options": {
            "socket_connect_timeout": attempt,
            "socket_timeout": attempt,
            "max_retries": retries,
            "connect_retries_timeout": seconds,
            **steps,
        },
        "task_publish_retry_policy": {"max_retries": retries, **steps},
        # The result store: each connection and answer, and its reconnects (kombu's
        # retry_over_time also stops at the policy's timeout).
        "redis_socket_connect_timeout": attempt,
        "redis_socket_timeout": attempt,
        "result_backend_always_retry": False,
        "result_backend_transport_options": {
            "retry_policy": {
                "max_retries": retries,
                "timeout": max(0.0, seconds - attempt),
                **steps,
            }
        },
    }


def producer(seconds: float) -> Celery:
    """The gateway's app, configured to give up after about ``seconds``."""
    get_infrastructure()  # a configuration error is the command's one line, not celeryconfig's
    from worker.celery import app

    bounded = producer_settings(seconds)
    bounded["broker_transport_options"] = {
        **(app.conf.broker_transport_options or {}),
        **bounded["broker_transport_options"],
    }
    app.conf.update(bounded)
    return app


@contextlib.contextmanager
def sending() -> Iterator[None]:
    """Around a publish: an unreachable broker or result store is one line naming it. (Celery
    subscribes to the task's result before it publishes: the store fails first.)"""
    try:
        yield
    except BrokerError as exc:
        raise _unreachable("broker", exc) from None
    except STORE_ERRORS as exc:  # Celery's "retry limit exceeded", redis-py's
        raise _unreachable("result store", exc) from None


@contextlib.contextmanager
def reaching_the_store() -> Iterator[None]:
    """Around a read of the result store: its outage is one line naming it."""
    try:
        yield
    except STORE_ERRORS as exc:
        raise _unreachable("result store", exc) from None


def outcome(result: Any, deadline: Deadline) -> Any:
    """The task's result by the deadline; its error, no result in time or an unreachable store
    as ``CommandError``."""
    try:
        with reaching_the_store():
            value = result.get(timeout=max(deadline.left(), 0.1), propagate=False)
    except ResultTimeout:
        stop_listening(result)
        raise CommandError(
            f"no result within {deadline.seconds:g} s (is a worker running?); task id {result.id}",
            FAILED,
        ) from None
    if isinstance(value, BaseException):  # the task's own error, rebuilt from the result store
        raise failure(value)
    return value


def failure(error: BaseException) -> CommandError:
    """A task's error as producers see it: its class and message (which hold no secret)."""
    return CommandError(f"{type(error).__name__}: {error}", FAILED)


def stop_listening(result: Any) -> None:
    """Unsubscribe from a result not waited for now, not at exit when Python is shutting down."""
    with contextlib.suppress(Exception):
        result.backend.remove_pending_result(result)


def _unreachable(what: str, exc: BaseException) -> CommandError:
    settings = get_infrastructure()
    if what == "broker":
        key, url = settings.broker_key(), settings.broker_url()
    else:
        key, url = settings.backend_key(), settings.result_backend()
    reason = out_of_reach(settings, key, url, exc.__cause__ or exc)
    return CommandError(f"cannot reach the {what}: {reason}", FAILED)
