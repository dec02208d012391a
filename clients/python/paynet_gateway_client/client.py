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
from celery.canvas import Signature

from paynet_gateway_client.handle import CallHandle
from paynet_gateway_client.kwargs import (
    CHECK_BY_AGENT_ID,
    PERFORM_TRANSACTION,
    agent_id_of,
    call_kwargs,
    default_key,
    payment_params,
    shown,
)
from paynet_gateway_client.names import CALL_QUEUE, CALL_TASK


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

    def signature(self, kwargs: dict[str, Any]) -> Signature:
        """``paynet.call`` with kwargs already built, as a signature for Celery's canvas:
        ``chain(client.signature(kwargs), record.s())``, ``link``, ``link_error``. Immutable
        options travel with it: the queue, JSON, and the masked ``kwargsrepr``."""
        return Signature(CALL_TASK, kwargs=kwargs, options=self._options(kwargs), app=self.app)

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "serializer": "json",
            "kwargsrepr": shown(kwargs),
            "headers": trace_headers(),
        }

    def payment_signature(
        self,
        agent_id: str | int,
        service_id: int,
        fields: Mapping[str, Any],
        amount: Decimal,
        *,
        ordered_at: datetime | int,
        idempotency_key: str | None = None,
    ) -> Signature:
        """A payment as a signature, built as ``perform_transaction`` builds it."""
        params = payment_params(agent_id, service_id, fields, amount, ordered_at)
        key = default_key(agent_id) if idempotency_key is None else idempotency_key
        kwargs = call_kwargs(
            PERFORM_TRANSACTION, params, idempotency_key=key, path=self.path, profile=self.profile
        )
        return self.signature(kwargs)

    def send(
        self,
        kwargs: dict[str, Any],
        link: Signature | None = None,
        link_error: Signature | None = None,
    ) -> CallHandle:
        """Publish kwargs already built (``paynet_gateway_client.kwargs``), masked, as JSON;
        ``link`` runs with the result, ``link_error`` with the failure (Celery's callbacks)."""
        callbacks = {"link": link, "link_error": link_error}
        given = {name: value for name, value in callbacks.items() if value is not None}
        result = self.app.send_task(CALL_TASK, kwargs=kwargs, **self._options(kwargs), **given)
        return CallHandle(result)


def trace_headers() -> dict[str, str]:
    """The caller's trace context (W3C ``traceparent``) for the message, where OpenTelemetry is
    installed and a span is current: the gateway's trace of the payment joins the caller's."""
    try:
        from opentelemetry.propagate import inject
    except ImportError:
        return {}
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier
