"""``paynet.call`` and ``paynet.refresh_token``: validate, call ``worker``, turn waits into retries.

Waiting (for a token, or on the idempotency ledger) is a ``self.retry(countdown=...)`` that
frees the worker slot; the wait state travels in the ``_wait`` and ``_ledger`` kwargs, sealed
(``_seal``), because Celery's own retry counter would eat the business retry budget (and
``retry`` replaces kwargs wholesale). Retries of waiting calls travel on the wait queue, so that
they never queue behind the payment backlog (they had their turn once already) and never stand
between the refresh task and its own queue.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from tasks.timeouts import RequeuedOnTimeout
from worker import masking
from worker.calls.refreshes import RefreshRequest, open_request, sealed_kwargs
from worker.calls.reprs import call_repr, refresh_repr
from worker.calls.request import parse_call
from worker.calls.waits import SEAL_KWARG, RetryLater, open_state, seal_state
from worker.celery import app
from worker.core import metrics, spans
from worker.errors import InvalidRequest, PaynetGatewayError
from worker.queues import CALL_TASK, REFRESH_TASK, WAIT_QUEUE
from worker.runtime import get_runtime

log = logging.getLogger("worker.refresh")
call_log = logging.getLogger("worker.gateway")
PRIVATE = ("_wait", "_ledger", SEAL_KWARG)


# ``throws``: the contract's errors are answers, not crashes, so Celery logs each on one INFO line
# ("raised expected: ...") instead of an ERROR with a traceback.
@app.task(
    name=CALL_TASK,
    bind=True,
    max_retries=None,
    throws=(PaynetGatewayError,),
    Request=RequeuedOnTimeout,
)
def call(self: Task, *args: Any, **given: Any) -> Any:
    if args:
        raise InvalidRequest("paynet.call takes keyword arguments only")
    runtime = get_runtime()
    settings = runtime.settings
    kwargs = {k: v for k, v in given.items() if k not in PRIVATE}
    private = {k: v for k, v in given.items() if k in PRIVATE}
    request = parse_call(kwargs, settings.paynet.profiles, settings.agent_ids())
    task_id = self.request.id or "-"
    now = runtime.provider.clock().timestamp()  # the database's time
    try:
        wait, ledger_wait = open_state(runtime.seal, task_id, kwargs, private, settings.token, now)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    try:
        # Celery's "succeeded" line and Flower see a summary of it, the backend all of it.
        return masking.mark(runtime.gateway.call(request, wait, ledger_wait, task_id))
    except PaynetGatewayError as error:
        metrics.call_error(type(error).__name__)
        raise
    except RetryLater as later:
        spans.event("paynet.wait", countdown=later.countdown, on=_waiting_on(later))
        state = later.to_kwargs()
        again = {**kwargs, **state, SEAL_KWARG: seal_state(runtime.seal, task_id, kwargs, state)}
        raise self.retry(
            countdown=later.countdown,
            kwargs=again,
            max_retries=None,
            kwargsrepr=call_repr(again),
            queue=WAIT_QUEUE,
        ) from None
    except SoftTimeLimitExceeded:
        # Stopped where it stood; the ledger row says what happened (a send in doubt is
        # reconciled), so the run that comes next carries on from the same wait state.
        call_log.warning("paynet.call[%s] stopped by its soft time limit: retried", task_id)
        raise self.retry(
            countdown=1.0,
            kwargs=given,
            max_retries=None,
            kwargsrepr=call_repr(given),
            queue=WAIT_QUEUE,
        ) from None


def _waiting_on(later: RetryLater) -> str:
    """What a wait is for, as a trace shows it: ``token``, ``ledger`` or ``send``."""
    if later.token is not None:
        return "token"
    return "ledger" if later.ledger is not None else "send"


@app.task(name=REFRESH_TASK, bind=True, max_retries=None, ignore_result=True)
def refresh_token(self: Task, **kwargs: Any) -> None:
    runtime = get_runtime()
    task_id = self.request.id or "-"
    request = open_request(runtime.seal, task_id, kwargs)
    if request is None:
        # Not sealed by a worker or the operator's CLI (or forced without the operator's seal):
        # acting on it could cost a login that knocks out the token every worker is using.
        log.warning("token refresh request ignored: not sealed by the gateway (task %s)", task_id)
        return
    plan = runtime.refresher.run(
        request.profile, request.stale_generation, request.attempt, request.started, request.force
    )
    if plan.retry_in is not None:
        again = RefreshRequest(
            request.profile,
            request.stale_generation,
            plan.attempt,
            plan.started,
            request.force,
            request.operator,
        )
        retry_kwargs = sealed_kwargs(runtime.seal, task_id, again)
        raise self.retry(
            countdown=plan.retry_in,
            kwargs=retry_kwargs,
            max_retries=None,
            kwargsrepr=refresh_repr(retry_kwargs),
        )
