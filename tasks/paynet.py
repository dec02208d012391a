"""``paynet.call`` and ``paynet.refresh_token``: validate, call ``worker``, turn waits into retries.

Waiting for a token is a ``self.retry(countdown=...)`` that frees the worker slot; the wait
state travels in the ``_wait`` kwarg because Celery's own retry counter would eat the business
retry budget (and ``retry`` replaces kwargs wholesale). Waiting on the idempotency ledger (for
another task sending the same key, or for a payment to settle before reconciling it) is the
same kind of retry, its state in the ``_ledger`` kwarg. Retries of waiting calls travel on the
``paynet.token`` queue so that they never queue behind the payment backlog.
"""

from __future__ import annotations

import time
from typing import Any

from celery import Task

from worker.app import app
from worker.errors import InvalidRequest, PaynetGatewayError
from worker.gateway import NeedWait
from worker.ledger_flow import LedgerWait
from worker.request import parse_call
from worker.runtime import get_runtime
from worker.task_repr import call_repr, refresh_repr
from worker.token_flow import WaitState

# A waiting call goes back on the token queue, not at the tail of the payment backlog: it has
# waited its turn once already, and the refresh it waits for is on that queue too.
WAIT_QUEUE = "paynet.token"


# ``throws``: the contract's errors are answers, not crashes, so Celery logs each on one INFO line
# ("raised expected: ...") instead of an ERROR with a traceback.
@app.task(name="paynet.call", bind=True, max_retries=None, throws=(PaynetGatewayError,))
def call(self: Task, *args: Any, _wait: Any = None, _ledger: Any = None, **kwargs: Any) -> Any:
    if args:
        raise InvalidRequest("paynet.call takes keyword arguments only")
    runtime = get_runtime()
    request = parse_call(kwargs, runtime.settings.paynet.profiles)
    try:
        wait = WaitState.from_kwargs(_wait)
        ledger_wait = LedgerWait.from_kwargs(_ledger)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    try:
        return runtime.idempotent.call(request, wait, ledger_wait, self.request.id or "-")
    except NeedWait as need:
        again = {**kwargs, **need.to_kwargs()}
        raise self.retry(
            countdown=need.countdown,
            kwargs=again,
            max_retries=None,
            kwargsrepr=call_repr(again),
            queue=WAIT_QUEUE,
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
    started = started or time.time()
    plan = runtime.refresher.run(profile, stale_generation, attempt, started, force)
    if plan.retry_in is not None:
        kwargs = {
            "profile": profile,
            "stale_generation": stale_generation,
            "attempt": plan.attempt,
            "started": started,
            "force": force,
        }
        raise self.retry(
            countdown=plan.retry_in,
            kwargs=kwargs,
            max_retries=None,
            kwargsrepr=refresh_repr(kwargs),
        )
