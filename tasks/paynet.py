"""``paynet.call`` and ``paynet.refresh_token``: validate, call ``worker``, turn waits into retries.

Waiting (for a token, or on the idempotency ledger) is a ``self.retry(countdown=...)`` that
frees the worker slot; the wait state travels in the ``_wait`` and ``_ledger`` kwargs because
Celery's own retry counter would eat the business retry budget (and ``retry`` replaces kwargs
wholesale). Retries of waiting calls travel on the token queue so that they never queue behind
the payment backlog: they have waited their turn once already, and the refresh they wait for
is on that queue too.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from worker.calls.reprs import call_repr, refresh_repr
from worker.calls.request import parse_call
from worker.calls.waits import RetryLater, ledger_wait_from_kwargs, token_wait_from_kwargs
from worker.celery import app
from worker.errors import InvalidRequest, PaynetGatewayError
from worker.queues import CALL_TASK, REFRESH_TASK, TOKEN_QUEUE
from worker.runtime import get_runtime


# ``throws``: the contract's errors are answers, not crashes, so Celery logs each on one INFO line
# ("raised expected: ...") instead of an ERROR with a traceback.
@app.task(name=CALL_TASK, bind=True, max_retries=None, throws=(PaynetGatewayError,))
def call(self: Task, *args: Any, _wait: Any = None, _ledger: Any = None, **kwargs: Any) -> Any:
    if args:
        raise InvalidRequest("paynet.call takes keyword arguments only")
    runtime = get_runtime()
    request = parse_call(kwargs, runtime.settings.paynet.profiles, runtime.settings.agent_ids())
    try:
        wait = token_wait_from_kwargs(_wait)
        ledger_wait = ledger_wait_from_kwargs(_ledger)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    try:
        return runtime.gateway.call(request, wait, ledger_wait, self.request.id or "-")
    except RetryLater as later:
        again = {**kwargs, **later.to_kwargs()}
        raise self.retry(
            countdown=later.countdown,
            kwargs=again,
            max_retries=None,
            kwargsrepr=call_repr(again),
            queue=TOKEN_QUEUE,
        ) from None


@app.task(name=REFRESH_TASK, bind=True, max_retries=None, ignore_result=True)
def refresh_token(
    self: Task,
    profile: str,
    stale_generation: int,
    attempt: int = 1,
    started: float | None = None,
    force: bool = False,
) -> None:
    runtime = get_runtime()
    plan = runtime.refresher.run(profile, stale_generation, attempt, started, force)
    if plan.retry_in is not None:
        kwargs = {
            "profile": profile,
            "stale_generation": stale_generation,
            "attempt": plan.attempt,
            "started": plan.started,
            "force": force,
        }
        raise self.retry(
            countdown=plan.retry_in,
            kwargs=kwargs,
            max_retries=None,
            kwargsrepr=refresh_repr(kwargs),
        )
