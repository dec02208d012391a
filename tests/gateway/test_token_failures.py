"""Every way the token endpoint can fail, end to end: real workers, Redis, PostgreSQL, simulator.

Each failure must end the same way: one ERROR line per failed login naming the profile and the
cause, a ``TokenUnavailable`` with that cause for every waiting task, and logins within the
login budget however many tasks wait.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.result import AsyncResult

from devservices.ports import free_port
from devservices.redis_server import RedisServer
from devservices.stack import Services
from simulator import Simulator
from tests.conftest import call
from tests.support.answers import HTML
from tests.support.tcp_proxy import TcpProxy, postgres_target, postgres_via
from tests.support.waiting import wait_for
from tests.support.workers import REPO_ROOT, WorkerPool

TASKS = 20
BUDGET = 2  # logins per window; the window outlasts every test
FAST = {
    "PAYNET_TOKEN_WAIT_TIMEOUT": "2",
    "PAYNET_LOGIN_TIMEOUT": "0.5",
    "PAYNET_CONNECT_TIMEOUT": "0.5",
    "PAYNET_LOGIN_BUDGET": str(BUDGET),
    "PAYNET_LOGIN_BUDGET_WINDOW": "600",
}


def outcomes(results: Iterable[AsyncResult], timeout: float = 60.0) -> list[tuple[str, str]]:
    """(exception class name or "ok", message or repr of the value) for each task."""
    ends = []
    for result in results:
        try:
            value = result.get(timeout=timeout)
        except Exception as exc:
            ends.append((type(exc).__name__, str(exc)))
        else:
            ends.append(("ok", repr(value)))
    return ends


def submit(producer: Celery, count: int = TASKS) -> list[AsyncResult]:
    return [call(producer, params={"i": i}) for i in range(count)]


def refresh_failures(logs: str, cause: str | None = None) -> list[str]:
    """The gateway's ERROR lines for failed logins (and outages met by a refresh)."""
    marker = "token refresh failed: profile=default cause="
    lines = [line for line in logs.splitlines() if " ERROR " in line and marker in line]
    return [line for line in lines if cause is None or f"cause={cause} " in line]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_no_secret(logs: str, password: str, simulator: Simulator) -> None:
    assert password not in logs
    assert not [token for token in simulator.issued_tokens() if token in logs]


@dataclass(frozen=True)
class LoginCase:
    cause: str
    fault: dict[str, Any] | None = None  # inject_fault("login", **fault)
    closed_port: bool = False  # nothing listens at the base URL
    env: dict[str, str] = field(default_factory=dict)


LOGIN_CASES = {
    "connection_reset": LoginCase("unreachable", {"kind": "down"}),
    "connection_refused": LoginCase("unreachable", closed_port=True),
    "hanging_login": LoginCase("timeout", {"kind": "slow", "delay": 1.5}),
    "http_500": LoginCase("http_error", {"kind": "http_500"}),
    "http_503": LoginCase("http_error", {"kind": "http_error"}),
    "html_502": LoginCase(
        "http_error", {"kind": "raw", "status": 502, "body": HTML, "content_type": "text/html"}
    ),
    "html_200": LoginCase("malformed", {"kind": "html_200"}),
    "truncated_json": LoginCase("malformed", {"kind": "truncated_json"}),
    "wrong_id": LoginCase("malformed", {"kind": "wrong_id"}),
    "empty_body": LoginCase("malformed", {"kind": "empty_body"}),
    "no_token": LoginCase("no_token", {"kind": "no_token"}),
    "refused_credentials": LoginCase("refused", {"kind": "refused_credentials"}),
}


@pytest.mark.parametrize("case", LOGIN_CASES.values(), ids=list(LOGIN_CASES))
def test_a_failing_login_ends_every_waiting_task_with_its_cause_and_one_error_line_per_login(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    password: str,
    record_property: Callable[[str, object], None],
    case: LoginCase,
) -> None:
    env = dict(FAST)
    login_url = simulator.login_url
    if case.closed_port:
        env["PAYNET_BASE_URL"] = f"http://127.0.0.1:{free_port()}"
        login_url = env["PAYNET_BASE_URL"] + "/v2/user"
    if case.fault is not None:
        simulator.inject_fault("login", **case.fault)
    workers = start_workers(concurrency=4, env=env)

    ends = outcomes(submit(producer))

    assert {name for name, _ in ends} == {"TokenUnavailable"}
    assert all(f"profile 'default': {case.cause} (" in message for _, message in ends), ends[0]
    lines = refresh_failures(workers.logs())
    assert lines, "no ERROR line for the failed login"
    assert all(f"cause={case.cause} url={login_url} duration=" in line for line in lines)
    logins = len(lines) if case.closed_port else simulator.stats()["logins_attempted"]
    record_property("logins", logins)
    assert len(lines) == logins  # one ERROR line per failed login, no more
    assert 1 <= logins <= BUDGET
    if case.fault is not None and case.fault["kind"] == "slow":
        # The simulator finishes the abandoned logins; let it, so no later test counts them.
        wait_for(lambda: simulator.stats()["logins_succeeded"] == logins)
    assert_no_secret(workers.logs(), password, simulator)


def test_refused_credentials_fail_every_task_at_once_until_an_operator_forces_a_refresh(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    gateway_env: dict[str, str],
    record_property: Callable[[str, object], None],
) -> None:
    env = {"PAYNET_TOKEN_WAIT_TIMEOUT": "30", "PAYNET_LOGIN_BUDGET": "5"}
    simulator.inject_fault("login", "refused_credentials")
    workers = start_workers(concurrency=4, env=env)

    first = outcomes(submit(producer))
    refused_logins = simulator.stats()["logins_attempted"]
    later = outcomes(submit(producer, 5))
    record_property("logins", refused_logins)

    for name, message in first + later:
        assert name == "TokenUnavailable"
        assert "refused (Paynet answered the login with -10000 user invalid)" in message
        assert "gave up after" not in message  # failed at once, not at the end of the wait
    assert 1 <= refused_logins <= 2
    assert simulator.stats()["logins_attempted"] == refused_logins  # the cool-down held
    assert len(refresh_failures(workers.logs(), "refused")) == refused_logins
    status = cli({**gateway_env, **env}, "token", "status")
    assert "last failure: cause=refused (permanent)" in status.stdout

    simulator.clear_faults()  # the operator has the credentials fixed at Paynet
    forced = cli({**gateway_env, **env}, "token", "refresh", "--timeout", "30")
    assert forced.returncode == 0, forced.stderr
    assert "refreshed: generation 1" in forced.stdout
    assert call(producer, params={"after": "fix"}).get(timeout=30) == {"after": "fix"}
    stats = simulator.stats()
    assert (stats["logins_attempted"], stats["logins_succeeded"]) == (refused_logins + 1, 1)


def test_an_endpoint_down_for_less_than_the_wait_bound_lets_every_waiting_task_succeed(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    record_property: Callable[[str, object], None],
) -> None:
    budget = 5
    env = {"PAYNET_TOKEN_WAIT_TIMEOUT": "20", "PAYNET_LOGIN_BUDGET": str(budget)}
    simulator.inject_fault("login", "down")
    workers = start_workers(concurrency=4, env=env)
    results = submit(producer)
    wait_for(lambda: simulator.stats()["logins_attempted"] >= 3)
    simulator.clear_faults()  # Paynet is back

    assert outcomes(results) == [("ok", repr({"i": i})) for i in range(TASKS)]
    stats = simulator.stats()
    failed = stats["logins_attempted"] - stats["logins_succeeded"]
    record_property("logins", f"{failed} failed + {stats['logins_succeeded']} succeeded")
    assert stats["logins_succeeded"] == 1
    assert 3 <= failed <= budget - 1  # the budget counts the successful login too
    assert len(refresh_failures(workers.logs(), "unreachable")) == failed


def test_a_refresher_killed_in_a_hanging_login_is_replaced_once_its_lock_expires(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    record_property: Callable[[str, object], None],
) -> None:
    env = {
        "PAYNET_LOGIN_TIMEOUT": "2",
        "PAYNET_CONNECT_TIMEOUT": "0.5",
        "PAYNET_REFRESH_REQUEST_TTL": "3",
        "PAYNET_TOKEN_WAIT_TIMEOUT": "20",
        # The killed worker also held calls waiting on the token queue; as for a dead host,
        # Redis hands them out again once the visibility timeout passes.
        "CELERY_VISIBILITY_TIMEOUT": "6",
    }
    # One host, one slot: the first call asks for the token, the refresh task logs in holding
    # the lock; the others wait. The host dies mid-login; a new one takes over.
    refreshers = start_workers(concurrency=1, env=env)
    simulator.inject_fault("login", "slow", count=1, delay=4)
    results = submit(producer)
    wait_for(lambda: simulator.stats()["logins_attempted"] == 1)
    wait_for(lambda: "token refresh started" in refreshers.workers[0].log())

    refreshers.workers[0].kill()  # SIGKILL while it holds the lock, mid-login
    fresh = refreshers.add()
    refreshers.wait_ready()

    assert outcomes(results) == [("ok", repr({"i": i})) for i in range(TASKS)]
    record_property("logins", simulator.stats()["logins_attempted"])
    assert simulator.stats()["logins_attempted"] == 2  # the hung login and one more
    assert "token refreshed: profile=default generation=1" in fresh.log()
    assert "token refreshed" not in refreshers.workers[0].log()
    wait_for(lambda: simulator.stats()["logins_succeeded"] == 2)  # the hung one ends too


# Redis and the database out of reach while a token is needed.


@pytest.fixture
def coordination_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis for the lock and refresh requests only; the broker stays on the session's."""
    server = RedisServer(tmp_path / "coordination")
    server.start()
    yield server
    server.stop()


def apart_from_broker(redis: RedisServer, real_services: Services) -> dict[str, str]:
    return {
        "REDIS_URL": redis.url,
        "CELERY_BROKER_URL": real_services.redis_url,
        "CELERY_RESULT_BACKEND": real_services.redis_url,
    }


def test_redis_down_while_a_token_is_needed_ends_in_redis_unavailable_not_a_crash(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    coordination_redis: RedisServer,
    real_services: Services,
) -> None:
    env = {**apart_from_broker(coordination_redis, real_services), **FAST}
    workers = start_workers(concurrency=4, env=env)
    coordination_redis.kill()

    ends = outcomes(submit(producer))

    assert {name for name, _ in ends} == {"TokenUnavailable"}
    assert all("profile 'default': redis_unavailable (" in message for _, message in ends)
    errors = [line for line in workers.logs().splitlines() if " ERROR " in line]
    assert any("profile=default cause=redis_unavailable" in line for line in errors)
    assert simulator.stats()["logins_attempted"] == 0
    coordination_redis.start()
    assert call(producer, params={"back": 1}).get(timeout=30) == {"back": 1}


def test_redis_back_within_the_wait_bound_lets_the_waiting_tasks_succeed(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    coordination_redis: RedisServer,
    real_services: Services,
) -> None:
    env = {
        **apart_from_broker(coordination_redis, real_services),
        "PAYNET_TOKEN_WAIT_TIMEOUT": "20",
    }
    workers = start_workers(concurrency=4, env=env)
    coordination_redis.kill()
    results = submit(producer)
    wait_for(lambda: "cause=redis_unavailable" in workers.logs())
    coordination_redis.start()

    assert outcomes(results) == [("ok", repr({"i": i})) for i in range(TASKS)]
    assert simulator.stats()["logins_attempted"] == 1


@pytest.fixture
def database_proxy(real_services: Services) -> Iterator[TcpProxy]:
    proxy = TcpProxy(postgres_target(real_services.database_url)).start()
    yield proxy
    proxy.cut()


def test_database_down_while_a_token_is_needed_ends_in_database_unavailable_not_a_crash(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    database_proxy: TcpProxy,
    real_services: Services,
) -> None:
    env = {"DATABASE_URL": postgres_via(real_services.database_url, database_proxy), **FAST}
    workers = start_workers(concurrency=4, env=env)
    database_proxy.cut()

    ends = outcomes(submit(producer))

    assert {name for name, _ in ends} == {"TokenUnavailable"}
    assert all("profile 'default': database_unavailable (" in message for _, message in ends)
    errors = [line for line in workers.logs().splitlines() if " ERROR " in line]
    assert any("profile=default cause=database_unavailable" in line for line in errors)
    assert simulator.stats()["logins_attempted"] == 0
    database_proxy.start()
    assert call(producer, params={"back": 1}).get(timeout=30) == {"back": 1}
