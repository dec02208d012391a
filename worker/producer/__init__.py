"""The producer's side of ``paynet.call``: a client for a payment-service written in Python.

``GatewayClient`` (a method per contract call), ``CallHandle`` (the answer, with the gateway's
exceptions rebuilt), ``producer_app`` (a JSON-only Celery app) and the pure kwargs building
below them. Imports ``worker.errors``, ``worker.queues`` and the task reprs of ``worker.calls``,
nothing that reads the gateway's configuration: a producer needs no Paynet setting.
"""

from worker.producer.client import GatewayClient, producer_app
from worker.producer.handle import CallHandle, rebuild

__all__ = ["CallHandle", "GatewayClient", "producer_app", "rebuild"]
