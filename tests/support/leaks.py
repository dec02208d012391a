"""Leak search: every form a secret travels in, and every place it could come to rest.

Written apart from ``worker.redaction`` on purpose: a test that searched with the code under
test's own idea of "every form" would share its blind spots.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, quote_plus

from redis import Redis
from sqlalchemy import Engine, MetaData, select

Haystack = Iterable[tuple[str, str]]  # (where, text)


def forms(secret: str) -> dict[str, str]:
    """Needles for ``secret``: as written, URL-encoded, and base64 (standard and URL-safe, with
    and without padding, and inside a longer encoded text at each of the three offsets)."""
    raw = secret.encode("utf-8")
    needles = {
        "as written": secret,
        "url-encoded": quote(secret, safe=""),
        "url-encoded (plus)": quote_plus(secret),
    }
    encoders: dict[str, Callable[[bytes], bytes]] = {
        "base64": base64.b64encode,
        "urlsafe base64": base64.urlsafe_b64encode,
    }
    for name, encode in encoders.items():
        padded = encode(raw).decode("ascii")
        needles[name] = padded
        needles[f"{name} unpadded"] = padded.rstrip("=")
        for shift in range(3):
            # Drop the leading group (mixed with what precedes) and the trailing one (mixed with
            # what follows): what is left appears in any encoded text holding the secret there.
            encoded = encode(b"\0" * shift + raw).decode("ascii")
            needles[f"{name} inside a text, offset {shift}"] = encoded[4 if shift else 0 : -4]
    return needles


@dataclass(frozen=True)
class Hit:
    where: str
    secret: str  # the secret's label, never its value
    form: str

    def __str__(self) -> str:
        return f"{self.secret} ({self.form}) in {self.where}"


def search(haystack: Haystack, secrets: Mapping[str, str]) -> list[Hit]:
    """Every place a labelled secret appears in any of its forms (case-sensitive)."""
    needles = [
        (label, form, needle)
        for label, secret in secrets.items()
        for form, needle in forms(secret).items()
    ]
    hits = []
    for where, text in haystack:
        for label, form, needle in needles:
            if needle in text:
                hits.append(Hit(where, label, form))
    return hits


def log_lines(paths: Iterable[Path]) -> Iterator[tuple[str, str]]:
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            yield f"{path.name} line {number}", line


def _text(value: bytes | str | float) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _unwrapped(text: str) -> Iterator[str]:
    """A kombu message keeps its body base64-encoded: search the decoded body too."""
    try:
        document = json.loads(text)
    except ValueError:
        return
    if isinstance(document, list) and document:
        document = document[0]  # the "unacked" hash holds [message, exchange, routing key]
    if not isinstance(document, dict):
        return
    properties = document.get("properties")
    body = document.get("body")
    encoded = isinstance(properties, dict) and properties.get("body_encoding") == "base64"
    if encoded and isinstance(body, str):
        yield base64.b64decode(body, validate=False).decode("utf-8", errors="replace")


def _values(client: Redis, key: bytes) -> list[bytes | str | float]:
    kind = _text(client.type(key))
    if kind == "string":
        value = client.get(key)
        return [] if value is None else [value]
    if kind == "list":
        return list(client.lrange(key, 0, -1))
    if kind == "hash":
        return [part for pair in client.hgetall(key).items() for part in pair]
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return [part for pair in client.zrange(key, 0, -1, withscores=True) for part in pair]
    if kind == "stream":
        return [repr(entry) for entry in client.xrange(key)]
    return [f"<{kind}>"]


def redis_dump(client: Redis) -> Iterator[tuple[str, str]]:
    """Every key of every type (broker queues, unacked, result backend, locks...), by value."""
    for key in client.scan_iter(count=1000):
        where = f"redis {_text(key)}"
        yield where + " (key name)", _text(key)
        for value in _values(client, key):
            text = _text(value)
            yield where, text
            for body in _unwrapped(text):
                yield where + " (decoded message body)", body


def redis_key_count(client: Redis) -> int:
    return sum(1 for _ in client.scan_iter(count=1000))


def database_dump(engine: Engine) -> Iterator[tuple[str, str]]:
    """Every row of every table, every column, as text."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for number, row in enumerate(conn.execute(select(table)), 1):
                yield f"table {table.name} row {number}", " | ".join(_text(v) for v in row)


class RedisRecorder:
    """Every command sent to Redis while recording (``MONITOR``): what passed through, not only
    what is left. Broker messages consumed, results overwritten and task events published (what
    Flower shows) are all in it."""

    _END = "leak-search-recording-ends"
    _QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')

    def __init__(self, url: str) -> None:
        self.url = url
        self.lines: list[str] = []
        self._client = Redis.from_url(url)
        self._monitor = self._client.monitor()
        self._thread = threading.Thread(target=self._record, daemon=True)

    def __enter__(self) -> RedisRecorder:
        self._monitor.__enter__()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with Redis.from_url(self.url) as other:
            other.echo(self._END)
        self._thread.join(timeout=10)
        self._monitor.__exit__()
        self._client.close()

    def _record(self) -> None:
        while True:
            line = _text(self._monitor.connection.read_response())
            if self._END in line:
                return
            self.lines.append(line)

    def haystack(self) -> Iterator[tuple[str, str]]:
        for number, line in enumerate(self.lines, 1):
            pieces = [
                piece.replace('\\"', '"').replace("\\\\", "\\")
                for piece in self._QUOTED.findall(line)
            ]
            where = f"redis command {number} ({' '.join(pieces[:2])})"
            yield where, line
            for piece in pieces:
                yield where, piece
                for body in _unwrapped(piece):
                    yield where + " decoded message body", body
