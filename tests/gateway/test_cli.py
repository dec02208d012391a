"""The ``paynet-gateway`` command: output and exit code of every subcommand, good input and bad.

Each runs as a real process (``python -m worker.cli``) against the session's Redis, database,
simulator and, where a task must run, real workers. A command asks only for the settings it
uses: those that do not log in to Paynet run without its password.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from redis import Redis

from devservices.ports import free_port
from simulator import Simulator
from tests.conftest import TERMINAL_ID, USERNAME
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
    ["result"],
    ["simulator", "revoke"],
    ["simulator", "fault"],
    ["simulator", "faults"],
    ["simulator", "counters"],
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


def without_password(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "PAYNET_PASSWORD"}


@pytest.fixture
def sqlite_env(gateway_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**gateway_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a server hung, or a firewall's."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as server:
        yield server.getsockname()[1]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_command_explains_itself_with_help(command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYNET_")}
    done = cli(env, *command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: {' '.join(['paynet-gateway', *command])} [OPTIONS]")


def test_version_prints_the_installed_packages_version() -> None:
    done = cli(dict(os.environ), "--version")
    assert done.returncode == 0, done.stderr
    assert one_line(done.stdout) == f"paynet-gateway, version {version('paynet-gateway')}"


def test_an_unknown_command_exits_2_naming_it_and_the_close_one() -> None:
    done = cli(dict(os.environ), "tokn")
    assert done.returncode == 2
    assert "Error: No such command 'tokn'." in done.stderr
    assert "token" in done.stderr.strip().splitlines()[-1]


def test_shell_completion_offers_the_subcommands() -> None:
    env = {**os.environ, "_PAYNET_GATEWAY_COMPLETE": "bash_complete", "COMP_WORDS": "x t"}
    done = cli({**env, "COMP_CWORD": "1"}, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "plain,token" in done.stdout.splitlines()


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


@pytest.mark.parametrize(
    "command", [["db", "upgrade"], ["db", "status"], ["token", "status"], ["ledger", "list"]]
)
def test_an_unreachable_database_is_named_in_one_line_without_its_password(
    gateway_env: dict[str, str], command: list[str]
) -> None:
    url = f"postgresql://paynet:db-secret-pw@127.0.0.1:{free_port()}/paynet"
    done = cli({**gateway_env, "DATABASE_URL": url}, *command)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "database.url (DATABASE_URL) postgresql+psycopg2://paynet:***@127.0.0.1:" in line
    assert "OperationalError: connection to server at" in line
    assert "Connection refused" in line
    assert "db-secret-pw" not in line


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "postgresql://paynet:db-secret-pw@127.0.0.1:port/paynet",
        "nosuchdialect://paynet:db-secret-pw@127.0.0.1/paynet",
    ],
)
@pytest.mark.parametrize(
    "command", [["db", "status"], ["ledger", "show", "k"], ["token", "status"]]
)
def test_a_malformed_database_url_is_one_line_naming_database_url_and_exits_2(
    gateway_env: dict[str, str], command: list[str], url: str
) -> None:
    done = cli({**gateway_env, "DATABASE_URL": url}, *command)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith("paynet-gateway: database.url (DATABASE_URL): not a usable URL: ")
    assert "db-secret-pw" not in line


@pytest.mark.parametrize(
    "command",
    [["db", "status"], ["db", "upgrade"], ["ledger", "list"], ["token", "status"]],
)
def test_commands_that_do_not_log_in_need_no_paynet_password(
    gateway_env: dict[str, str], command: list[str]
) -> None:
    done = cli(without_password(gateway_env), *command)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_call_needs_no_paynet_password(gateway_env: dict[str, str], redis_client: Redis) -> None:
    done = cli(without_password(gateway_env), "call", "echo", "--no-wait")
    assert done.returncode == 0, done.stderr
    assert redis_client.llen("paynet") == 1


def test_a_command_that_logs_in_names_the_missing_password_and_exits_2(
    gateway_env: dict[str, str],
) -> None:
    done = cli(without_password(gateway_env), "ledger", "reconcile")
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "paynet.profiles.default.password" in line and "PAYNET_PASSWORD" in line


def test_a_configuration_error_names_the_key_and_exits_2(gateway_env: dict[str, str]) -> None:
    done = cli({**gateway_env, "PAYNET_TERMINAL_ID": "abc"}, "token", "status")
    assert done.returncode == 2
    assert "paynet.profiles.default.terminal_id" in one_line(done.stderr)


def test_a_malformed_redis_url_names_the_setting_and_exits_2(gateway_env: dict[str, str]) -> None:
    done = cli({**gateway_env, "REDIS_URL": "localhost:6379"}, "call", "echo")
    assert done.returncode == 2
    assert "redis.url: Value error, must start with redis://" in one_line(done.stderr)


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
        (["--params", "[1, 2]"], "invalid request: params: must be an object, got list"),
        (["--profile", "nobody"], "invalid request: profile: unknown profile 'nobody'"),
        (["--path", "../etc"], "invalid request: path: must be a resource path"),
    ],
)
def test_call_with_arguments_a_worker_would_refuse_exits_2_and_enqueues_nothing(
    gateway_env: dict[str, str], redis_client: Redis, args: list[str], reason: str
) -> None:
    done = cli(gateway_env, "call", "echo", *args)
    assert done.returncode == 2
    assert one_line(done.stderr).startswith(f"paynet-gateway: {reason}")
    assert redis_client.llen("paynet") == 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--params", "{bad"], "Error: Invalid value for '--params': not valid JSON"),
        (["--timeout", "0"], "Error: Invalid value for '--timeout': 0.0 is not in the range x>0"),
    ],
)
def test_call_with_a_malformed_option_is_a_usage_error_and_enqueues_nothing(
    gateway_env: dict[str, str], redis_client: Redis, args: list[str], error: str
) -> None:
    done = cli(gateway_env, "call", "echo", *args)
    assert done.returncode == 2
    assert done.stderr.startswith("Usage: paynet-gateway call [OPTIONS] METHOD")
    assert done.stderr.strip().splitlines()[-1].startswith(error)
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


def test_call_with_an_unreachable_redis_exits_1_in_one_line_naming_the_setting(
    gateway_env: dict[str, str],
) -> None:
    env = {**gateway_env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    done = cli(env, "call", "echo")
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert line.startswith("paynet-gateway: cannot reach the result store: redis.url (REDIS_URL) ")
    assert line.endswith("Connection refused.")


def test_call_with_an_unreachable_broker_names_the_broker_setting(
    gateway_env: dict[str, str],
) -> None:
    env = {**gateway_env, "CELERY_BROKER_URL": f"redis://:broker-pw@127.0.0.1:{free_port()}/0"}
    done = cli(env, "call", "echo")
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "cannot reach the broker: celery.broker_url (CELERY_BROKER_URL) redis://:***@" in line
    assert "broker-pw" not in line


@pytest.mark.parametrize("where", ["REDIS_URL", "CELERY_BROKER_URL"])
def test_call_timeout_bounds_the_whole_command_against_a_silent_redis(
    gateway_env: dict[str, str], silent_port: int, where: str
) -> None:
    """A server that takes connections and never answers: the command gives up, its --timeout
    honoured while sending too (it took 20 s for a 5 s timeout). The bound of three timeouts
    leaves room for a loaded machine; the worker's own retry budget would take over 20 s."""
    env = {**gateway_env, where: f"redis://127.0.0.1:{silent_port}/0"}
    done = cli(env, "call", "echo", "--timeout", "5", timeout=15)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert f"({where}) redis://127.0.0.1:{silent_port}/0: TimeoutError: " in line


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


def test_result_prints_a_finished_tasks_value_and_a_failed_ones_error(
    gateway_env: dict[str, str], start_workers: Callable[..., WorkerPool]
) -> None:
    start_workers()
    sent = cli(gateway_env, "call", "echo", "--params", '{"amount": 1.10}', "--no-wait")
    task_id = one_line(sent.stdout)
    waited = cli(without_password(gateway_env), "result", task_id, "--wait", "30")
    assert waited.returncode == 0, waited.stderr
    assert one_line(waited.stdout) == '{"amount":1.10}'
    again = cli(without_password(gateway_env), "result", task_id)
    assert (again.returncode, again.stdout) == (0, waited.stdout)

    refused = cli(
        gateway_env, "call", "checkTransactionByAgentId", "--no-wait", "--params", '{"id": "y"}'
    )
    shown = cli(gateway_env, "result", one_line(refused.stdout), "--wait", "30")
    assert shown.returncode == 1
    assert one_line(shown.stderr) == (
        "paynet-gateway: PaynetRpcError: Paynet error -12007: transaction not found"
    )
    assert shown.stdout == ""


def test_result_of_a_task_without_one_exits_1_saying_so(gateway_env: dict[str, str]) -> None:
    done = cli(gateway_env, "result", "no-such-task")
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        "paynet-gateway: task no-such-task: no result: not finished, unknown or expired"
    )
    waited = cli(gateway_env, "result", "no-such-task", "--wait", "1")
    assert waited.returncode == 1
    assert "no result within 1 s (is a worker running?)" in one_line(waited.stderr)


def login(simulator: Simulator, password: str) -> None:
    params = {"username": USERNAME, "password": password, "terminal_id": TERMINAL_ID}
    body = {"jsonrpc": "2.0", "method": "login", "id": 1, "params": params}
    assert "token" in requests.post(simulator.login_url, json=body, timeout=5).json()["result"]


def test_simulator_revoke_revokes_the_running_simulators_tokens(
    gateway_env: dict[str, str], simulator: Simulator, password: str
) -> None:
    login(simulator, password)
    done = cli(gateway_env, "simulator", "revoke", "--url", simulator.url)
    assert done.returncode == 0, done.stderr
    assert one_line(done.stdout) == "revoked 1 token(s)"
    assert simulator.revoke() == 0  # none left valid


def test_simulator_fault_arms_one_that_faults_lists_and_clears(
    gateway_env: dict[str, str], simulator: Simulator
) -> None:
    env = {**gateway_env, "PAYNET_BASE_URL": simulator.url}  # the default --url
    armed = cli(env, "simulator", "fault", "login", "down", "--count", "2")
    assert armed.returncode == 0, armed.stderr
    assert one_line(armed.stdout) == "armed down on login for 2 request(s)"
    assert [(f["target"], f["kind"], f["count"]) for f in simulator.faults()] == [
        ("login", "down", 2)
    ]
    listed = cli(env, "simulator", "faults")
    assert json.loads(listed.stdout) == simulator.faults()
    cleared = cli(env, "simulator", "faults", "--clear")
    assert one_line(cleared.stdout) == "cleared 1 fault(s)"
    assert simulator.faults() == []


def test_simulator_fault_refuses_an_unknown_kind_before_asking(
    gateway_env: dict[str, str], simulator: Simulator
) -> None:
    done = cli(gateway_env, "simulator", "fault", "login", "meltdown", "--url", simulator.url)
    assert done.returncode == 2
    assert "Invalid value for 'KIND': 'meltdown' is not one of" in done.stderr
    assert simulator.faults() == []


def test_simulator_counters_print_what_it_received(
    gateway_env: dict[str, str], simulator: Simulator, password: str
) -> None:
    login(simulator, password)
    done = cli(gateway_env, "simulator", "counters", "--url", simulator.url)
    assert done.returncode == 0, done.stderr
    counters = json.loads(done.stdout)
    assert counters["logins_succeeded"] == 1
    assert counters == json.loads(json.dumps(simulator.stats()))
    for token in simulator.issued_tokens():
        assert token not in done.stdout


def test_a_simulator_that_does_not_answer_is_one_line_exit_1(gateway_env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = cli(gateway_env, "simulator", "counters", "--url", url)
    assert done.returncode == 1
    assert one_line(done.stderr).startswith(f"paynet-gateway: simulator at {url}: ConnectionError")
