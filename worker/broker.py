"""The broker: kombu's Redis transport with one fix, and the clean-up of stale bindings.

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

import amqp.exceptions
import redis
from celery import Celery
from kombu.transport import redis as kombu_redis

from worker.queues import CALL_QUEUE, TOKEN_QUEUE


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is already closed")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]


class Transport(kombu_redis.Transport):
    Channel = Channel


# Bindings that releases before this one made and that still route messages wrongly: both
# queues were bound to exchange ``paynet`` with routing key ``paynet``, so a message published
# there reached both. Brokers keep bindings across restarts; a worker removes these at start.
STALE_BINDINGS = ((TOKEN_QUEUE, CALL_QUEUE, CALL_QUEUE),)  # (queue, exchange, routing key)


def drop_stale_bindings(app: Celery) -> int:
    """Remove the bindings above where the broker still has them; returns how many went."""
    removed = 0
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue, exchange, routing_key in STALE_BINDINGS:
            if isinstance(channel, kombu_redis.Channel):
                member = channel.sep.join([routing_key, "", queue])
                removed += int(channel.client.srem(channel.keyprefix_queue % exchange, member))
                channel.client.srem(channel.keyprefix_binding_permanent % exchange, member)
            else:
                # AMQP: unbinding what is not bound is a no-op, and says nothing of whether
                # there was a binding (so it is not counted); a queue or exchange not declared
                # yet is a channel error, after which the channel is closed.
                try:
                    channel.queue_unbind(queue, exchange=exchange, routing_key=routing_key)
                except amqp.exceptions.NotFound:
                    channel = connection.channel()
    return removed
