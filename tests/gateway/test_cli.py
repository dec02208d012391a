"""The ``paynet-gateway`` command: output and exit code of every subcommand, good input and bad.

Each runs as a real process (``python -m worker.cli``) against the session's Redis, database,
simulator and, where a task must run, real workers.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from redis import Redis

from devservices.ports import free_port
from simulator import Simulator
from tests.support.workers import REPO_ROOT, WorkerPool

COMMANDS = [
    [],
    ["simulator"],
    ["db"],
    ["db", "upgrade"],
    ["db", "status"],
    ["token"],
    ["token", "status"],
    ["token", "refresh"],
    ["token", "new-key"],
    ["token", "rotate-key"],
    ["ledger"],
    ["ledger", "show"],
    ["ledger", "list"],
    ["call"],
]


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture
def sqlite_env(gateway_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**gateway_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_command_explains_itself_with_help(command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYNET_")}
    done = cli(env, *command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {' '.join(['paynet-gateway', *command])}")


def test_an_unknown_command_exits_2_naming_it() -> None:
    done = cli(dict(os.environ), "launch")
    assert done.returncode == 2
    assert "invalid choice: 'launch'" in done.stderr.strip().splitlines()[-1]


def test_db_upgrade_then_status_report_the_same_revision(sqlite_env: dict[str, str]) -> None:
    before = cli(sqlite_env, "db", "status")
    assert before.returncode == 1
    assert re.fullmatch(r"database: empty; code: \w+", one_line(before.stdout))
    upgraded = cli(sqlite_env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    revision = one_line(upgraded.stdout).removeprefix("database schema at revision ")
    after = cli(sqlite_env, "db", "status")
    assert after.returncode == 0
    assert one_line(after.stdout) == f"database: {revision}; code: {revision}"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["db", "status"], ["token", "status"]])
def test_an_unreachable_database_is_named_in_one_line_without_its_password(
    gateway_env: dict[str, str], command: list[str]
) -> None:
    url = f"postgresql://paynet:db-secret-pw@127.0.0.1:{free_port()}/paynet"
    done = cli({**gateway_env, "DATABASE_URL": url}, *command)
    assert done.returncode != 0
    line = one_line(done.stderr)
    assert "Connection refused" in line
    assert "127.0.0.1" in line
    assert "db-secret-pw" not in line


def test_a_configuration_error_names_the_key_and_exits_2(gateway_env: dict[str, str]) -> None:
    env = {k: v for k, v in gateway_env.items() if k != "PAYNET_PASSWORD"}
    done = cli(env, "token", "status")
    assert done.returncode == 2
    assert "paynet.profiles.default.password" in one_line(done.stderr)


def test_token_status_before_the_schema_exists_says_to_run_db_upgrade(
    sqlite_env: dict[str, str],
) -> None:
    done = cli(sqlite_env, "token", "status")
    assert done.returncode == 2
    assert "run 'paynet-gateway db upgrade' first" in one_line(done.stderr)


def test_token_new_key_prints_a_key_that_encrypts(gateway_env: dict[str, str]) -> None:
    done = cli(gateway_env, "token", "new-key")
    assert done.returncode == 0
    key = one_line(done.stdout)
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


def test_call_prints_the_result_as_json_and_token_status_the_generation_not_the_token(
    gateway_env: dict[str, str],
    start_workers: Callable[..., WorkerPool],
    simulator: Simulator,
) -> None:
    before = cli(gateway_env, "token", "status")
    assert before.returncode == 0
    assert one_line(before.stdout).startswith("profile=default token=none generation=0 ")
    start_workers()
    done = cli(gateway_env, "call", "echo", "--params", '{"amount": 15000.50, "n": [1]}')
    assert done.returncode == 0, done.stderr
    assert one_line(done.stdout) == '{"amount":15000.50,"n":[1]}'
    status = cli(gateway_env, "token", "status")
    assert status.returncode == 0
    assert one_line(status.stdout).startswith("profile=default token=present generation=1 ")
    for token in simulator.issued_tokens():
        assert token not in status.stdout + status.stderr + done.stdout + done.stderr


def test_call_of_a_method_paynet_refuses_prints_the_error_class_and_exits_1(
    gateway_env: dict[str, str], start_workers: Callable[..., WorkerPool]
) -> None:
    start_workers()
    params = '{"id": "never-paid"}'
    done = cli(gateway_env, "call", "checkTransactionByAgentId", "--params", params)
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        "paynet-gateway: PaynetRpcError: Paynet error -12007: transaction not found"
    )
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--params", "{bad"], "--params: not valid JSON"),
        (["--params", "[1, 2]"], "invalid request: params: must be an object, got list"),
        (["--profile", "nobody"], "invalid request: profile: unknown profile 'nobody'"),
        (["--path", "../etc"], "invalid request: path: must be a resource path"),
        (["--timeout", "0"], "--timeout: must be positive"),
    ],
)
def test_call_with_bad_input_exits_2_and_enqueues_nothing(
    gateway_env: dict[str, str], redis_client: Redis, args: list[str], reason: str
) -> None:
    done = cli(gateway_env, "call", "echo", *args)
    assert done.returncode == 2
    assert one_line(done.stderr).startswith(f"paynet-gateway: {reason}")
    assert redis_client.llen("paynet") == 0


def test_call_without_wait_prints_the_task_id_and_leaves_the_task_queued(
    gateway_env: dict[str, str], redis_client: Redis
) -> None:
    done = cli(gateway_env, "call", "echo", "--no-wait", "--idempotency-key", "k-1")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"[0-9a-f-]{36}", one_line(done.stdout))
    assert redis_client.llen("paynet") == 1


def test_call_with_no_worker_running_gives_up_after_its_timeout(
    gateway_env: dict[str, str],
) -> None:
    done = cli(gateway_env, "call", "echo", "--timeout", "1")
    assert done.returncode == 1
    assert "no result within 1 s (is a worker running?)" in one_line(done.stderr)


def test_call_with_an_unreachable_broker_exits_1_in_one_line(gateway_env: dict[str, str]) -> None:
    env = {**gateway_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    done = cli(env, "call", "echo")
    assert done.returncode == 1
    assert "cannot enqueue through redis://127.0.0.1:" in one_line(done.stderr)


def test_token_refresh_logs_in_once_through_a_worker(
    gateway_env: dict[str, str],
    start_workers: Callable[..., WorkerPool],
    simulator: Simulator,
) -> None:
    start_workers()
    done = cli(gateway_env, "token", "refresh", "--timeout", "20")
    assert done.returncode == 0, done.stderr
    assert one_line(done.stdout) == "profile=default refreshed: generation 1"
    assert simulator.stats()["logins_succeeded"] == 1


def test_token_refresh_with_no_worker_running_says_so(gateway_env: dict[str, str]) -> None:
    done = cli(gateway_env, "token", "refresh", "--timeout", "1")
    assert done.returncode == 1
    assert "no new token within 1 s (is a worker running?)" in one_line(done.stderr)


def test_token_refresh_of_an_unknown_profile_exits_2(gateway_env: dict[str, str]) -> None:
    done = cli(gateway_env, "token", "refresh", "--profile", "nobody")
    assert done.returncode == 2
    assert one_line(done.stderr) == "paynet-gateway: unknown profile 'nobody'"


def test_simulator_serves_until_sigterm_and_exits_0(gateway_env: dict[str, str]) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", "simulator", "--port", "0"],
        cwd=REPO_ROOT,
        env=gateway_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert re.match(r"Paynet simulator listening on http://127\.0\.0\.1:\d+ ", banner)
        assert gateway_env["PAYNET_PASSWORD"] not in banner
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    finally:
        server.kill()
        server.communicate()


def test_simulator_on_a_busy_port_exits_2_in_one_line(
    gateway_env: dict[str, str], simulator: Simulator
) -> None:
    done = cli(gateway_env, "simulator", "--port", str(simulator.port))
    assert done.returncode == 2
    assert "cannot listen on 127.0.0.1:" in one_line(done.stderr)
