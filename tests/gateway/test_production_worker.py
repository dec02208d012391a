"""A production worker: configured by secret files alone, and refusing development defaults."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from simulator import Account, Simulator
from tests.conftest import TERMINAL_ID, call
from tests.support.workers import REPO_ROOT, WorkerPool

USERNAME = "agent-production-7"  # not the simulator's example account, which production refuses


@pytest.fixture
def paynet(password: str) -> Iterator[Simulator]:
    account = Account(username=USERNAME, password=password, terminal_id=str(TERMINAL_ID))
    with Simulator(accounts=[account]) as sim:
        yield sim


def descendants(pid: int) -> list[int]:
    """The process and every child it forked (the pool), from /proc."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            pending += [int(child) for child in (task / "children").read_text().split()]
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_secret_files_alone_configure_a_production_worker_whose_environment_holds_no_secret(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    paynet: Simulator,
    password: str,
    token_key: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "password").write_text(password + "\n")
    (tmp_path / "key").write_text(token_key + "\n")
    workers = start_workers(
        concurrency=2,
        env={
            "PAYNET_ENV": "production",
            "PAYNET_BASE_URL": paynet.url,
            "PAYNET_USERNAME": USERNAME,
            "PAYNET_PASSWORD": "",
            "PAYNET_TOKEN_KEY": "",
            "PAYNET_PASSWORD_FILE": str(tmp_path / "password"),
            "PAYNET_TOKEN_KEY_FILE": str(tmp_path / "key"),
        },
    )
    assert call(producer, params={"from": "files"}).get(timeout=30) == {"from": "files"}
    assert paynet.stats()["logins_succeeded"] == 1
    pids = descendants(workers.workers[0].popen.pid)
    assert len(pids) >= 3  # the worker and its two pool children
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert password.encode() not in environ
        assert token_key.encode() not in environ
    assert password not in workers.logs()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"DATABASE_URL": "sqlite:///paynet.db"}, "database.url (DATABASE_URL) is SQLite"),
        ({"PAYNET_USERNAME": ""}, "paynet.profiles.default.username (PAYNET_USERNAME) is the"),
    ],
)
def test_a_production_worker_refuses_a_development_default_in_one_line(
    gateway_env: dict[str, str], change: dict[str, str], named: str
) -> None:
    env = {**gateway_env, "PAYNET_ENV": "production", "PAYNET_USERNAME": USERNAME, **change}
    argv = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool", "solo"]
    done = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("paynet-gateway: ")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"paynet-gateway: cannot start: {named}")
    assert "Traceback" not in done.stderr
