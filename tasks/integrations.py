"""``integration.call``: a bearer integration's request, with the token mechanism of
``paynet.call``: validate, call ``worker``, turn waits into retries on the integration's own wait
queue. The wait state travels sealed in ``_wait``, as ``paynet.call``'s does.

There is no ledger behind it, so a run is never requeued after it may have sent: stopped by its
soft time limit it ends ``OutcomeUnknown``; killed by the hard one its message is acknowledged
(``acks_on_timeout``), not delivered again. A worker killed mid-call still has its message
delivered again (at least once, as every gateway task): the API's idempotency key
(``idempotency_key``) is what makes that second send harmless."""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from worker import masking
from worker.calls.waits import SEAL_KWARG, RetryLater, open_state, seal_state
from worker.celery import app
from worker.errors import InvalidRequest, OutcomeUnknown, PaynetGatewayError
from worker.integrations.reprs import integration_repr
from worker.integrations.request import parse_request
from worker.queues import INTEGRATION_TASK, integration_queues
from worker.runtime import get_runtime

PRIVATE = ("_wait", SEAL_KWARG)


@app.task(
    name=INTEGRATION_TASK,
    bind=True,
    max_retries=None,
    throws=(PaynetGatewayError,),
    acks_on_timeout=True,
)
def integration_call(self: Task, *args: Any, **given: Any) -> Any:
    if args:
        raise InvalidRequest("integration.call takes keyword arguments only")
    runtime = get_runtime()
    kwargs = {k: v for k, v in given.items() if k not in PRIVATE}
    private = {k: v for k, v in given.items() if k in PRIVATE}
    request = parse_request(kwargs, runtime.settings.integrations)
    task_id = self.request.id or "-"
    now = runtime.provider.clock().timestamp()  # the database's time
    policy = runtime.settings.token_policy(request.integration)
    try:
        wait, _ = open_state(runtime.seal, task_id, kwargs, private, policy, now)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    try:
        # Celery's "succeeded" line and Flower see a summary of it, the backend all of it.
        return masking.mark(runtime.integrations.call(request, wait))
    except SoftTimeLimitExceeded:
        raise OutcomeUnknown(
            f"{request.integration}: {request.method} {request.path}: stopped by its time limit; "
            "the request may have executed"
        ) from None
    except RetryLater as later:
        state = later.to_kwargs()
        again = {**kwargs, **state, SEAL_KWARG: seal_state(runtime.seal, task_id, kwargs, state)}
        raise self.retry(
            countdown=later.countdown,
            kwargs=again,
            max_retries=None,
            kwargsrepr=integration_repr(again),
            queue=integration_queues(request.integration)[1],
        ) from None
