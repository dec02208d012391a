"""``paynet_queue_depth{queue}``: what each gateway queue holds, waiting retries included.

A queue's Redis list holds only the messages no worker has fetched yet. A task waiting for a
token (or on the ledger) is a retry with a countdown, which a worker fetches at once and holds
unacknowledged until it is due: kombu keeps it in its ``unacked`` hash, not in the list, so a
list length (KEDA's plain Redis trigger) misses exactly the payments a storm holds back. The
depth here is the list (each priority step's list) plus the entries of the unacknowledged hash
routed to the queue (running, or held for their countdown).

Cheap by construction: one Lua script reads the hash's routing keys on the server (a bounded
scan: ``SCAN_LIMIT`` entries at most, the message bodies never cross the network), and the
figure is computed at most once per ``CACHE_SECONDS`` by the worker host's metrics endpoint.
Every host serves the same figure: aggregate with ``max``, not ``sum``. Redis brokers only; a
RabbitMQ broker reports its own queue depths (its unacknowledged deliveries included).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from redis import Redis

log = logging.getLogger("worker.metrics")

SCAN_LIMIT = 20_000  # unacknowledged entries read at most per computation
CACHE_SECONDS = 5.0
PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport: a priority step's list is queue + sep + step
PRIORITY_STEPS = (0, 3, 6, 9)

# The routing key is the last member of each entry, a JSON array [message, exchange, key]:
# read from the tail, the body is never decoded.
_COUNT_UNACKED = """
local counts, cursor, seen = {}, "0", 0
local limit = tonumber(ARGV[1])
repeat
  local page = redis.call("HSCAN", KEYS[1], cursor, "COUNT", 500)
  cursor = page[1]
  local items = page[2]
  for i = 2, #items, 2 do
    local key = string.match(items[i], '"([^"]*)"%s*%]%s*$')
    if key then counts[key] = (counts[key] or 0) + 1 end
    seen = seen + 1
  end
until cursor == "0" or seen >= limit
local out = {}
for key, n in pairs(counts) do
  out[#out + 1] = key
  out[#out + 1] = n
end
return out
"""


def list_keys(queue: str, steps: Iterable[int] = PRIORITY_STEPS, prefix: str = "") -> list[str]:
    """The Redis lists kombu keeps a queue in: the queue's own, and one per priority step."""
    return [prefix + queue + (f"{PRIORITY_SEP}{step}" if step else "") for step in steps]


def depths(
    client: Redis,
    queues: Iterable[str],
    options: Mapping[str, Any] | None = None,
    limit: int = SCAN_LIMIT,
) -> dict[str, int]:
    """Each queue's list length plus its unacknowledged messages, as kombu's Redis transport
    lays them out under its transport ``options`` (key prefix, unacked key, priority steps)."""
    listed, held = parts(client, queues, options, limit)
    return {queue: listed[queue] + held[queue] for queue in listed}


def parts(
    client: Redis,
    queues: Iterable[str],
    options: Mapping[str, Any] | None = None,
    limit: int = SCAN_LIMIT,
) -> tuple[dict[str, int], dict[str, int]]:
    """Per queue: the messages in its lists, and those fetched and not acknowledged."""
    options = options or {}
    prefix = str(options.get("global_keyprefix", "") or "")
    steps = tuple(options.get("priority_steps", PRIORITY_STEPS))
    unacked_key = prefix + str(options.get("unacked_key", "unacked"))
    names = list(queues)
    pipe = client.pipeline(transaction=False)
    for queue in names:
        for key in list_keys(queue, steps, prefix):
            pipe.llen(key)
    lengths = iter(pipe.execute())
    listed = {queue: sum(next(lengths) for _ in steps) for queue in names}
    flat = client.eval(_COUNT_UNACKED, 1, unacked_key, limit)
    routed = {_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}
    return listed, {queue: routed.get(queue, 0) for queue in names}


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class QueueDepthCollector:
    """The gauge, computed when scraped and kept ``CACHE_SECONDS``; a broker out of reach
    leaves it out of that scrape rather than failing the scrape."""

    def __init__(
        self,
        compute: Callable[[], Mapping[str, int]],
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.compute = compute
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._kept: tuple[float, Mapping[str, int]] | None = None

    def _current(self) -> Mapping[str, int]:
        with self._lock:
            now = self.clock()
            if self._kept is None or now - self._kept[0] >= self.cache_seconds:
                self._kept = (now, self.compute())
            return self._kept[1]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            found = self._current()
        except Exception as exc:
            log.debug("queue depths left out of this scrape: %s", type(exc).__name__)
            return
        family = GaugeMetricFamily(
            "paynet_queue_depth",
            "Messages in each gateway queue: waiting in its list, or fetched and not yet "
            "acknowledged (running, or held by a worker until a wait's countdown is due).",
            labels=["queue"],
        )
        for queue, value in sorted(found.items()):
            family.add_metric([queue], value)
        yield family


def collector_for(broker_url: str, queues: Iterable[str], options: Mapping[str, Any]) -> Any:
    """The collector of a Redis broker's queues, or None for any other broker."""
    if not broker_url.startswith(("redis://", "rediss://", "unix://")):
        return None
    client = Redis.from_url(broker_url, socket_timeout=2, socket_connect_timeout=2)
    names = tuple(queues)
    return QueueDepthCollector(lambda: depths(client, names, options))
