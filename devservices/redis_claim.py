"""A Redis database of one's own on a shared server: claimed empty, emptied only while owned.

A test session flushes its Redis database before every test. On a shared server (``REDIS_URL``
exported for a deployment, another session, another project) the database it names may hold
someone else's keys, so a session never takes it on trust: it claims the first database, from
the one the URL names upwards, that is empty, by writing a claim key in the same atomic step
that checks it is empty. It flushes a database only while that database holds its own claim,
and empties it at the end. A database holding anything else is never touched.
"""

from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from redis.exceptions import ResponseError

CLAIM_KEY = "paynet-test:claim"
DEFAULT_DATABASES = 16  # Redis' default number of databases, where CONFIG is not allowed

_CLAIM_IF_EMPTY = """
if redis.call('DBSIZE') ~= 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""
# Empty the database, keeping the claim, only if it is still this owner's.
_FLUSH_IF_OWNED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('FLUSHDB')
if ARGV[2] == '1' then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


class NoFreeDatabase(RuntimeError):
    """Every database from the URL's upwards holds keys: none is taken."""


def new_owner() -> str:
    """A claim's value: which session holds it, for whoever finds it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def with_database(url: str, number: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{number}"))


def database_of(url: str) -> int:
    return int(urlsplit(url).path.strip("/") or 0)


def claim_database(url: str, owner: str) -> str:
    """The URL of the first empty database from ``url``'s upwards, now claimed by ``owner``."""
    first = database_of(url)
    for number in range(first, _databases(url)):
        candidate = with_database(url, number)
        client = Redis.from_url(candidate)
        try:
            if client.eval(_CLAIM_IF_EMPTY, 1, CLAIM_KEY, owner):
                return candidate
        finally:
            client.close()
    raise NoFreeDatabase(
        f"no empty Redis database from {first} upwards on {urlsplit(url).hostname}: the tests "
        "use only a database they found empty; free one, or point REDIS_URL elsewhere"
    )


def flush_owned(client: Redis, owner: str, keep_claim: bool = True) -> bool:
    """Empty the client's database if ``owner`` holds it (the claim kept unless told); whether
    it did."""
    return bool(client.eval(_FLUSH_IF_OWNED, 1, CLAIM_KEY, owner, "1" if keep_claim else "0"))


def release_database(url: str, owner: str) -> bool:
    """Empty the claimed database, claim included, leaving it free for the next session."""
    client = Redis.from_url(url)
    try:
        return flush_owned(client, owner, keep_claim=False)
    finally:
        client.close()


def _databases(url: str) -> int:
    client = Redis.from_url(url)
    try:
        found = client.config_get("databases").get("databases")
        return int(found) if found is not None else DEFAULT_DATABASES
    except ResponseError:  # CONFIG is refused (a managed Redis): assume the default
        return DEFAULT_DATABASES
    finally:
        client.close()
