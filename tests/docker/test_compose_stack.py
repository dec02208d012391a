"""docker-compose.yml for real, where a Docker engine answers: the stack an operator deploys.

Brings the file up with the ``dev`` profile (the simulator plays Paynet) and two worker
containers, sends payments with the image's own ``paynet-gateway call``, revokes the token
through the simulator's control interface, and takes everything down again. Skipped, with the
reason, where no Docker engine answers (as on the machines that run the default suite). Run it
with ``make test-docker``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.workers import REPO_ROOT

pytestmark = pytest.mark.docker


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
        compose = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return info.returncode == 0 and compose.returncode == 0


if not docker_engine_answers():
    pytest.skip("no Docker engine answers (docker info failed)", allow_module_level=True)


class Stack:
    """``docker compose`` on the project's file, under a project name of its own."""

    def __init__(self, env_file: Path) -> None:
        self.base = [
            "docker", "compose", "--project-directory", str(REPO_ROOT),
            "--env-file", str(env_file), "--project-name", f"paynet-test-{secrets.token_hex(3)}",
            "--profile", "dev",
        ]  # fmt: skip

    def run(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"docker compose {' '.join(args)}:\n{done.stderr[-3000:]}"
        return done.stdout

    def gateway(self, *args: str) -> str:
        """A one-off container of the image, on the stack's network."""
        return self.run("run", "--rm", "--no-deps", "-T", "worker", *args, timeout=120)

    def simulator(self, route: str, method: str = "get") -> dict[str, object]:
        code = (
            "import requests, json; "
            f"print(json.dumps(requests.{method}('http://simulator:8765/_control/{route}',"
            " timeout=10).json()))"
        )
        return dict(json.loads(self.gateway("python", "-c", code).strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env_file = tmp_path_factory.mktemp("compose") / ".env"
    env_file.write_text(
        "\n".join(
            [
                "PAYNET_BASE_URL=http://simulator:8765",
                "PAYNET_USERNAME=username_17627_56530",
                f"PAYNET_PASSWORD=pw{secrets.token_hex(12)}",
                "PAYNET_TERMINAL_ID=4027096",
                f"PAYNET_TOKEN_KEY={Fernet.generate_key().decode()}",
                f"POSTGRES_PASSWORD=pg{secrets.token_hex(12)}",
                f"FLOWER_BASIC_AUTH=ops:{secrets.token_hex(8)}",
                "LOG_FORMAT=text",
            ]
        )
        + "\n"
    )
    stack = Stack(env_file)
    try:
        stack.run("up", "-d", "--build", "--scale", "worker=2")
        wait_until_workers_ready(stack)
        yield stack
    finally:
        subprocess.run([*stack.base, "down", "-v", "--remove-orphans"], timeout=300, check=False)


def wait_until_workers_ready(stack: Stack, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while stack.run("logs", "worker").count(" ready.") < 2:
        assert time.monotonic() < deadline, stack.run("logs", "migrate", "worker")[-3000:]
        time.sleep(2)


def test_payments_through_the_deployed_stack_log_in_once_per_revocation(stack: Stack) -> None:
    first = stack.gateway("paynet-gateway", "call", "echo", "--params", '{"n": 1}')
    assert first.strip() == '{"n":1}'
    stack.simulator("revoke", method="post")
    second = stack.gateway("paynet-gateway", "call", "echo", "--params", '{"n": 2}')
    assert second.strip() == '{"n":2}'
    stats = stack.simulator("stats")
    assert stats["logins_succeeded"] == 2
    assert stats["rejections"] == 1
    status = stack.gateway("paynet-gateway", "token", "status")
    assert "generation=2" in status
