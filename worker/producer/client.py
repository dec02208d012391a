"""``GatewayClient``: a method per contract call, each one ``send_task`` with masked kwargs.

The client knows the task's name, its queue and its kwargs, and nothing of the gateway's
configuration: a payment-service needs the broker and the result backend, no Paynet setting.
Every send is JSON (the gateway refuses pickle) and carries a ``kwargsrepr`` that names the
method, profile and key and only counts the params, so that Flower and the worker's events
show no phone number and no amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from celery import Celery

from worker.producer.handle import CallHandle
from worker.producer.kwargs import (
    CHECK_BY_AGENT_ID,
    PERFORM_TRANSACTION,
    agent_id_of,
    call_kwargs,
    default_key,
    payment_params,
    shown,
)
from worker.queues import CALL_QUEUE, CALL_TASK


def producer_app(
    broker_url: str, backend_url: str | None = None, name: str = "payment-service"
) -> Celery:
    """A Celery app set up as the gateway expects its producers: JSON both ways."""
    app = Celery(name, broker=broker_url, backend=backend_url or broker_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
    )
    return app


class GatewayClient:
    """Sends ``paynet.call`` through ``app``; every method returns a ``CallHandle``."""

    def __init__(
        self,
        app: Celery,
        profile: str = "default",
        path: str | None = None,
        queue: str = CALL_QUEUE,
    ) -> None:
        self.app = app
        self.profile = profile
        self.path = path
        self.queue = queue

    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        path: str | None = None,
        profile: str | None = None,
    ) -> CallHandle:
        """Any JSON-RPC method; a call with a key executes at most once, whatever is resent."""
        kwargs = call_kwargs(
            method,
            params,
            idempotency_key=idempotency_key,
            path=self.path if path is None else path,
            profile=self.profile if profile is None else profile,
        )
        return self.send(kwargs)

    def perform_transaction(
        self,
        agent_id: str | int,
        service_id: int,
        fields: Mapping[str, Any],
        amount: Decimal,
        *,
        ordered_at: datetime | int,
        idempotency_key: str | None = None,
        path: str | None = None,
        profile: str | None = None,
    ) -> CallHandle:
        """Pay once. ``ordered_at`` is Paynet's ``time``: when the order was made, as stored
        with it (never the clock at send time), so that sending the same order again is the
        same request and gets the first send's outcome. The key defaults to the agent id."""
        params = payment_params(agent_id, service_id, fields, amount, ordered_at)
        key = default_key(agent_id) if idempotency_key is None else idempotency_key
        return self.call(
            PERFORM_TRANSACTION, params, idempotency_key=key, path=path, profile=profile
        )

    def check_transaction_by_agent_id(
        self, agent_id: str | int, *, path: str | None = None, profile: str | None = None
    ) -> CallHandle:
        """Look a payment up by the agent's own id; a read, so it goes without a key."""
        params = {"id": agent_id_of(agent_id)}
        return self.call(CHECK_BY_AGENT_ID, params, path=path, profile=profile)

    def send(self, kwargs: dict[str, Any]) -> CallHandle:
        """Publish kwargs already built (``worker.producer.kwargs``), masked, as JSON."""
        result = self.app.send_task(
            CALL_TASK,
            kwargs=kwargs,
            kwargsrepr=shown(kwargs),
            queue=self.queue,
            serializer="json",
        )
        return CallHandle(result)
