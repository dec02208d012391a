"""The suite never touches a Redis database it did not find empty and claim: someone else's
keys, in the database REDIS_URL names or any other, survive a session's claim, its flushes and
its end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis

from devservices.redis_claim import (
    CLAIM_KEY,
    claim_database,
    flush_owned,
    new_owner,
    release_database,
    with_database,
)
from devservices.redis_server import RedisServer


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of the test's own, standing for a shared one: REDIS_URL names its database 0."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield with_database(server.url, 0)


def test_a_session_claims_the_first_empty_database_and_leaves_foreign_keys_untouched(
    shared: str,
) -> None:
    foreign = {n: Redis.from_url(with_database(shared, n)) for n in (0, 1)}
    foreign[0].set("their:order", "kept")
    foreign[1].set("their:session", "kept")
    owner, other = new_owner(), new_owner()

    url = claim_database(shared, owner)  # what the session's fixture does
    assert url == with_database(shared, 2)
    assert claim_database(shared, other) == with_database(shared, 3)  # a second session
    mine = Redis.from_url(url)
    mine.set("paynet:test-key", "1")
    assert flush_owned(mine, owner)  # what each test's clean-up does
    assert mine.keys() == [CLAIM_KEY.encode()]
    assert not flush_owned(foreign[0], owner)  # a database it does not hold: refused
    assert release_database(url, owner)  # the session's end
    assert mine.dbsize() == 0

    assert foreign[0].get("their:order") == b"kept"
    assert foreign[1].get("their:session") == b"kept"
    for client in (*foreign.values(), mine):
        client.close()
    release_database(with_database(shared, 3), other)


def test_the_session_holds_a_claimed_database(redis_client: Redis) -> None:
    assert redis_client.exists(CLAIM_KEY)
