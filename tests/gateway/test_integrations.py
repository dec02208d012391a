"""Bearer integrations, added by a configuration file alone, on the same workers as Paynet:
real worker processes, Redis, PostgreSQL, the Paynet simulator and bearer simulators over HTTP.

The requirement's four acceptance criteria for a bearer API, tokens renewed before they expire
whichever way the answer says when, two integrations that do not touch each other, and no
secret of either anywhere.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.result import AsyncResult, ResultSet
from redis import Redis
from sqlalchemy import Engine, select

from devservices.stack import Services
from simulator import Simulator
from simulator.bearer import BearerConfig, BearerSimulator
from tests.conftest import call
from tests.gateway.test_cli import cli
from tests.support.integrations import bearer_call, config_with, multicard_block, oauth2_block
from tests.support.leaks import RedisRecorder, database_dump, log_lines, redis_dump, search
from tests.support.logins import logins
from tests.support.workers import WorkerPool
from worker.db.tables import tokens


@pytest.fixture
def secret_of() -> dict[str, str]:
    """Real-looking client secrets, one per integration, for the leak search."""
    return {name: "cs-" + secrets.token_urlsafe(18) for name in ("acquiring", "multicard", "jwt")}


@pytest.fixture
def bearers(secret_of: dict[str, str]) -> Iterator[dict[str, BearerSimulator]]:
    sims = {
        "acquiring": BearerSimulator(BearerConfig(client_secret=secret_of["acquiring"])),
        "multicard": BearerSimulator(
            BearerConfig(client_secret=secret_of["multicard"], expiry_form="local_time")
        ),
        "jwt": BearerSimulator(BearerConfig(client_secret=secret_of["jwt"], expiry_form="jwt")),
    }
    for sim in sims.values():
        sim.start()
    yield sims
    for sim in sims.values():
        sim.stop()


def integrations_env(
    bearers: dict[str, BearerSimulator], secret_of: dict[str, str], tmp_path: Path
) -> dict[str, str]:
    """A worker's environment: the configuration file that adds the integrations, and their
    secrets, each in a variable of its own."""
    blocks = {
        "acquiring": oauth2_block(bearers["acquiring"].url, "ACQUIRING_CLIENT_SECRET"),
        "multicard": multicard_block(bearers["multicard"].url, "MULTICARD_SECRET"),
        "jwt": oauth2_block(bearers["jwt"].url, "JWT_CLIENT_SECRET"),
    }
    return {
        "PAYNET_CONFIG": str(config_with(blocks, tmp_path)),
        "ACQUIRING_CLIENT_SECRET": secret_of["acquiring"],
        "MULTICARD_SECRET": secret_of["multicard"],
        "JWT_CLIENT_SECRET": secret_of["jwt"],
    }


def failure_of(result: AsyncResult) -> BaseException:
    with pytest.raises(Exception) as caught:
        result.get(timeout=60)
    return caught.value


def generation(engine: Engine, profile: str) -> int:
    with engine.connect() as conn:
        found = conn.execute(select(tokens.c.generation).where(tokens.c.profile == profile))
        return int(found.scalar_one())


def test_a_bearer_integration_logs_in_once_renews_a_rejected_token_and_names_a_dead_endpoint(
    start_workers: Callable[..., WorkerPool],
    gateway_env: dict[str, str],
    producer: Celery,
    bearers: dict[str, BearerSimulator],
    secret_of: dict[str, str],
    simulator: Simulator,
    tmp_path: Path,
) -> None:
    env = integrations_env(bearers, secret_of, tmp_path)
    workers = start_workers(env={**env, "PAYNET_TOKEN_WAIT_TIMEOUT": "4"})
    acquiring, multicard = bearers["acquiring"], bearers["multicard"]

    # 1. The first call has no token: one login, then the call, its body and query delivered.
    first = bearer_call(
        producer,
        "acquiring",
        method="POST",
        json={"amount": 100},
        query={"shop": "7"},
        idempotency_key="order-1",
    ).get(timeout=30)
    assert first["status"] == 200
    assert first["json"]["json"] == {"amount": 100}
    assert first["json"]["query"] == {"shop": ["7"]}
    assert acquiring.stats()["logins"] == 1
    assert acquiring.stats()["executions_by_key"] == {"order-1": 1}

    # 2. A token the API refuses (401) is renewed once and the call repeated.
    acquiring.revoke()
    again = bearer_call(producer, "acquiring", path="/api/balance").get(timeout=30)
    assert again["status"] == 200
    stats = acquiring.stats()
    assert (stats["logins"], stats["rejections"], stats["calls"]) == (2, 1, 3)

    # 3. A token endpoint that does not answer: a clear error, and the ERROR line that says why.
    multicard.inject_fault("login", "down")
    error = failure_of(bearer_call(producer, "multicard"))
    assert type(error).__name__ == "TokenUnavailable"
    assert "integration 'multicard'" in str(error) and "unreachable" in str(error)
    lines = [line for line in workers.logs().splitlines() if " ERROR " in line]
    assert any("cause=unreachable" in line and "profile=multicard" in line for line in lines)

    # Neither touched Paynet's token, and Paynet still works on the same workers.
    assert simulator.stats()["logins_attempted"] == 0
    assert call(producer, params={"n": 1}).get(timeout=30) == {"n": 1}
    assert simulator.stats()["logins_succeeded"] == 1

    # Bad input is refused before anything is sent, naming the argument.
    unknown = failure_of(bearer_call(producer, "acquiring", method="TRACE"))
    assert type(unknown).__name__ == "InvalidRequest" and "method" in str(unknown)
    keyless = failure_of(bearer_call(producer, "multicard", idempotency_key="k"))
    assert "idempotency_header" in str(keyless)

    # The operator's commands know the integrations: the token's state, and a forced login run
    # by the refresh task on the integration's own token queue.
    operator = {**gateway_env, **env}
    status = cli(operator, "token", "status").stdout
    assert "profile=acquiring token=present generation=2" in status
    refreshed = cli(operator, "token", "refresh", "--profile", "acquiring")
    assert refreshed.returncode == 0, refreshed.stderr
    assert acquiring.stats()["logins"] == 3


def test_a_storm_on_one_integration_costs_one_login_per_revocation_and_spares_the_other(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    bearers: dict[str, BearerSimulator],
    secret_of: dict[str, str],
    real_services: Services,
    redis_client: Redis,
    engine: Engine,
    password: str,
    token_key: str,
    tmp_path: Path,
) -> None:
    env = integrations_env(bearers, secret_of, tmp_path)
    acquiring, multicard = bearers["acquiring"], bearers["multicard"]
    with RedisRecorder(real_services.redis_url) as recorded:
        workers = start_workers(processes=2, concurrency=8, env={**env, "LOG_LEVEL": "DEBUG"})
        results: list[AsyncResult] = []
        for name in ("acquiring", "multicard"):
            results.append(bearer_call(producer, name))
        ResultSet(results[-2:]).join(timeout=30)
        before = generation(engine, "multicard")
        revocations = 3
        for round_ in range(revocations):
            acquiring.revoke()
            storm = [bearer_call(producer, "acquiring", json={"n": n}) for n in range(40)]
            calm = [bearer_call(producer, "multicard", json={"n": n}) for n in range(10)]
            values = ResultSet(storm + calm).join(timeout=90)
            assert {value["status"] for value in values} == {200}, round_
            results += storm + calm
        workers.stop()

    assert acquiring.stats()["logins"] == revocations + 1  # exactly K+1
    assert multicard.stats()["logins"] == 1  # untouched: its token, logins and slots
    assert multicard.stats()["rejections"] == 0
    assert generation(engine, "multicard") == before
    seen = logins(workers.logs())
    assert len(seen.logged_in) == revocations + 2
    assert set(seen.names()) == {"paynet.refresh_token"}

    # No secret of either integration (client secret, token) anywhere, in any form.
    issued = acquiring.issued_tokens() + multicard.issued_tokens()
    found = {"acquiring secret": secret_of["acquiring"], "multicard secret": secret_of["multicard"]}
    found |= {"paynet password": password, "token key": token_key}
    found |= {f"token #{n}": token for n, token in enumerate(issued, 1)}
    haystack = [
        *log_lines(worker.log_path for worker in workers.workers),
        *recorded.haystack(),
        *redis_dump(redis_client),
        *database_dump(engine),
        *((f"result {r.id}", repr(r.backend.get_task_meta(r.id))) for r in results),
    ]
    assert [str(hit) for hit in search(haystack, found)] == []


def test_tokens_are_renewed_before_they_expire_whichever_way_the_answer_says_when(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    bearers: dict[str, BearerSimulator],
    secret_of: dict[str, str],
    tmp_path: Path,
) -> None:
    """``expires_in`` (acquiring), a local time in UTC+5 with no offset (multicard), a JWT's
    ``exp`` (jwt): 12 s each, used until 5 s before the end, renewed without a 401."""
    lifetime = 12
    for sim in bearers.values():
        sim.configure(token_ttl=lifetime)
    start_workers(env=integrations_env(bearers, secret_of, tmp_path))
    names = list(bearers)

    def calls() -> list[Any]:
        batch = [bearer_call(producer, name, json={"i": i}) for name in names for i in range(5)]
        return ResultSet(batch).join(timeout=60)

    started = time.monotonic()
    assert {value["status"] for value in calls()} == {200}
    time.sleep(max(0.0, lifetime - 4 - (time.monotonic() - started)))  # inside the leeway
    assert {value["status"] for value in calls()} == {200}

    for name, sim in bearers.items():
        stats = sim.stats()
        assert (name, stats["logins"], stats["rejections"]) == (name, 2, 0)
