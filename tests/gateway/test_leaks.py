"""No secret anywhere: real secrets, logging at DEBUG, the token flows run through real workers,
then every log line, every Redis key, every database row and every stored exception searched."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from secrets import token_urlsafe
from typing import Any
from urllib.parse import quote

import pytest
from celery import Celery
from celery.result import AsyncResult
from redis import Redis
from sqlalchemy import Engine, insert, select

from devservices.stack import Services
from simulator import Simulator
from tests.conftest import USERNAME, call
from tests.support.leaks import (
    Hit,
    RedisRecorder,
    database_dump,
    log_lines,
    redis_dump,
    redis_key_count,
    search,
)
from tests.support.tokens import seed
from tests.support.workers import WorkerPool
from worker.core.redaction import MASK
from worker.db.tables import tokens
from worker.tokens.crypto import TokenCipher
from worker.tokens.store import TokenStore

DEBUG_ENV = {
    "LOG_LEVEL": "DEBUG",
    "PAYNET_TOKEN_WAIT_TIMEOUT": "3",
    "PAYNET_LOGIN_BUDGET": "100",
}


def failure_of(result: AsyncResult) -> BaseException:
    with pytest.raises(Exception) as caught:
        result.get(timeout=30)
    return caught.value


def no_refresh_pending(redis: Redis, timeout: float = 30.0) -> None:
    """A failed refresh holds its request for a cool-down; the next flow starts after it."""
    deadline = time.monotonic() + timeout
    while any(redis.scan_iter("paynet:refresh-requested:*")):
        assert time.monotonic() < deadline, "a refresh request was never released"
        time.sleep(0.1)


def run_flows(producer: Celery, simulator: Simulator, redis: Redis) -> list[AsyncResult]:
    """First token, rejection and refresh, token endpoint down, credentials refused."""
    first = call(producer, params={"flow": "first"})
    assert first.get(timeout=30) == {"flow": "first"}

    simulator.revoke()
    refreshed = call(producer, method="performTransaction", params={"id": "leak-1", "amount": 5})
    assert [refreshed.get(timeout=30)["transactionId"]] == simulator.transaction_ids("leak-1")
    rpc_error = call(producer, method="checkTransactionByAgentId", params={"id": "none"})
    assert type(failure_of(rpc_error)).__name__ == "PaynetRpcError"

    simulator.revoke()
    simulator.inject_fault("login", "down")
    down = call(producer, params={"flow": "down"})
    assert "unreachable" in str(failure_of(down))
    simulator.clear_faults()
    no_refresh_pending(redis)

    simulator.inject_fault("login", "refused_credentials")
    refused = call(producer, params={"flow": "refused"})
    assert "refused" in str(failure_of(refused))
    simulator.clear_faults()
    return [first, refreshed, rpc_error, down, refused]


def stored_results(results: list[AsyncResult]) -> list[tuple[str, str]]:
    """What a producer or Flower reads back: results, exceptions and their tracebacks."""
    found = []
    for result in results:
        meta: Any = result.backend.get_task_meta(result.id)
        found.append((f"result {result.id}", json.dumps(meta, default=str)))
        found.append((f"traceback {result.id}", str(result.traceback)))
        found.append((f"exception {result.id}", repr(result.result)))
        # An error's repr sums its data up: its args are what the producer reads.
        found.append((f"exception args {result.id}", repr(getattr(result.result, "args", None))))
    return found


def test_no_secret_reaches_logs_redis_the_database_or_stored_results(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    real_services: Services,
    redis_client: Redis,
    engine: Engine,
    password: str,
    token_key: str,
) -> None:
    with RedisRecorder(real_services.redis_url) as recorded:
        workers = start_workers(processes=1, concurrency=2, env=DEBUG_ENV)
        results = run_flows(producer, simulator, redis_client)
        workers.stop()  # every line written, every message where the worker left it

    issued = simulator.issued_tokens()
    secrets = {"password": password, "token key": token_key}
    secrets |= {f"token #{n}": token for n, token in enumerate(issued, 1)}
    logs = workers.logs()
    haystack = [
        *log_lines(worker.log_path for worker in workers.workers),
        *recorded.haystack(),
        *redis_dump(redis_client),
        *database_dump(engine),
        *stored_results(results),
    ]
    hits = search(haystack, secrets)

    assert [str(hit) for hit in hits] == []
    assert MASK not in logs  # the first defence held: nothing even reached the filter
    # The haystack is the real thing: DEBUG from every library, keys, rows, a stored token.
    assert len(issued) == 2
    assert all(f" DEBUG MainProcess {name}" in logs for name in ("celery", "kombu"))
    assert re.search(r" DEBUG ForkPoolWorker-\d+ urllib3\.connectionpool", logs)
    assert redis_key_count(redis_client) >= len(results)
    commands = "\n".join(recorded.lines)
    for verb in ("LPUSH", "PUBLISH", "SETEX", "HSET", "ZADD"):  # sent, evented, stored, unacked
        assert f'"{verb}"' in commands.upper()
    with engine.connect() as conn:
        ciphertext = conn.execute(select(tokens.c.token_ciphertext)).scalar_one()
    assert TokenCipher([token_key.encode()]).decrypt(ciphertext) == issued[-1]


def test_a_token_paynet_echoes_in_an_error_reaches_neither_the_result_nor_the_logs(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    redis_client: Redis,
    engine: Engine,
    token_key: str,
) -> None:
    token = "tok-echo-" + token_urlsafe(16)
    seed(TokenStore(engine, TokenCipher([token_key.encode()])), "default", token)
    echoed = {"code": -31000, "message": f"token {token} is not valid", "data": {"token": token}}
    # The worker's first request (no login: the token is stored) carries id 1.
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "error": echoed})
    simulator.inject_fault("resource", "raw", count=1, body=body)
    workers = start_workers(processes=1, concurrency=1, env=DEBUG_ENV)

    result = call(producer)
    error = failure_of(result)

    assert type(error).__name__ == "PaynetRpcError"
    assert error.args == (-31000, f"token {MASK} is not valid", {"token": MASK})
    workers.stop()
    haystack = [
        *log_lines(worker.log_path for worker in workers.workers),
        *redis_dump(redis_client),
        *stored_results([result]),
    ]
    assert [str(hit) for hit in search(haystack, {"token": token})] == []


def test_the_search_finds_a_secret_planted_in_a_log_redis_or_the_database(
    real_services: Services,
    redis_client: Redis,
    engine: Engine,
    password: str,
    tmp_path: Path,
    clean: None,
) -> None:
    token = "RV5LwDHwB1ZJUBEfDbRNNaA64LynT5VG"
    secrets = {"password": password, "token": token}
    log = tmp_path / "w1.log"
    log.write_text(f"INFO quiet line\nDEBUG sent body token={quote(token)}\n")
    basic = base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
    redis_client.set("plain", "nothing here")
    with RedisRecorder(real_services.redis_url) as recorded:  # a message consumed, gone from Redis
        redis_client.lpush("paynet.token", json.dumps({"kwargs": {"password": password}}))
        redis_client.rpop("paynet.token")
    redis_client.rpush("paynet", json.dumps({"body": "e30=", "headers": {"auth": basic}}))
    envelope = {
        "body": base64.b64encode(json.dumps({"kwargs": {"token": token}}).encode()).decode(),
        "properties": {"body_encoding": "base64"},
    }
    redis_client.hset("unacked", "tag-1", json.dumps([envelope, "", "paynet"]))
    redis_client.zadd("unacked_index", {base64.urlsafe_b64encode(token.encode()): 1.0})
    with engine.begin() as conn:
        conn.execute(
            insert(tokens).values(
                profile="planted", generation=0, failure_detail=password, updated_at="2026-01-01"
            )
        )

    haystack = [
        *log_lines([log]),
        *recorded.haystack(),
        *redis_dump(redis_client),
        *database_dump(engine),
    ]
    hits = search(haystack, secrets)

    assert {(hit.where.split(" (")[0], hit.secret) for hit in hits} == {
        ("w1.log line 2", "token"),
        ("redis command 1", "password"),
        ("redis paynet", "password"),
        ("redis unacked", "token"),
        ("redis unacked_index", "token"),
        ("table paynet_tokens row 1", "password"),
    }
    assert all(isinstance(hit, Hit) and password not in str(hit) for hit in hits)
