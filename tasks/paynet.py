"""``paynet.call`` and ``paynet.refresh_token``: validate, call ``worker``, turn waits into retries.

Waiting for a token is a ``self.retry(countdown=...)`` that frees the worker slot; the wait
state travels in the ``_wait`` kwarg because Celery's own retry counter would eat the business
retry budget (and ``retry`` replaces kwargs wholesale).
"""

from __future__ import annotations

import time
from typing import Any

from celery import Task

from worker.app import app
from worker.errors import InvalidRequest
from worker.gateway import NeedWait
from worker.refresher import AlreadyFresh, Busy, Failed, Refreshed
from worker.request import parse_call
from worker.runtime import get_runtime
from worker.token_flow import WaitState


@app.task(name="paynet.call", bind=True, max_retries=None)
def call(self: Task, *args: Any, _wait: Any = None, **kwargs: Any) -> Any:
    if args:
        raise InvalidRequest("paynet.call takes keyword arguments only")
    runtime = get_runtime()
    request = parse_call(kwargs, runtime.settings.paynet.profiles)
    try:
        wait = WaitState.from_kwargs(_wait)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    try:
        return runtime.gateway.call(request, wait)
    except NeedWait as need:
        raise self.retry(
            countdown=need.countdown,
            kwargs={**kwargs, "_wait": need.wait.to_kwargs()},
            max_retries=None,
        ) from None


@app.task(name="paynet.refresh_token", bind=True, max_retries=None, ignore_result=True)
def refresh_token(
    self: Task,
    profile: str,
    stale_generation: int,
    attempt: int = 1,
    started: float | None = None,
    force: bool = False,
) -> None:
    runtime = get_runtime()
    policy = runtime.settings.token
    started = started or time.time()
    outcome = runtime.refresher.refresh(profile, stale_generation, attempt, force)
    elapsed = time.time() - started
    retry_in: float | None = None
    if isinstance(outcome, Busy):
        retry_in = policy.wait_step
    elif isinstance(outcome, Failed) and outcome.retry_in is not None:
        retry_in = outcome.retry_in
        attempt += 1
    if retry_in is not None and elapsed + retry_in < policy.wait_timeout:
        runtime.coordinator.keep_request(profile, stale_generation, retry_in)
        kwargs = {
            "profile": profile,
            "stale_generation": stale_generation,
            "attempt": attempt,
            "started": started,
            "force": force,
        }
        raise self.retry(countdown=retry_in, kwargs=kwargs, max_retries=None)
    runtime.coordinator.finish_request(profile, stale_generation)
    assert isinstance(outcome, Refreshed | AlreadyFresh | Failed | Busy)
