"""The broker: kombu's Redis transport with one fix.

A lost broker connection must not kill the worker.

With Celery 5.7 / kombu 5.7, when the broker connection drops while the worker holds
unacknowledged messages (late acks: every payment in progress), the consumer closes the broken
connection, and closing its channel tries to put those messages back through a connection that
is already gone: ``_connparams`` reads ``connection.client``, which is None by then, and the
``AttributeError`` ends the worker ("Unrecoverable error"). Here that case raises the Redis
connection error that kombu expects and ignores while closing; the messages stay in the
broker's unacknowledged set and come back after the visibility timeout, and the worker
reconnects. Selected in ``celeryconfig.py`` for ``redis://`` brokers only.
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is already closed")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]


class Transport(kombu_redis.Transport):
    Channel = Channel
