"""Flower, ``celery inspect`` and producers need no Paynet secret; the worker alone loads it all.

``celeryconfig`` reads the infrastructure settings only, and Celery's default loader imports it
from anywhere: each of these runs as a real process with no Paynet variable set. The worker
still applies what only it needs (time limits, redelivery timing) from the whole configuration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.support.flower import running_flower
from tests.support.workers import REPO_ROOT, WorkerPool


def no_paynet_variable(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith("PAYNET_")}


@pytest.fixture
def default_loader_flower(gateway_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Flower as the README starts it: no -A, so Celery's default loader finds celeryconfig."""
    env = no_paynet_variable(gateway_env)
    log_path = tmp_path / "flower.log"
    with running_flower(["--broker", env["REDIS_URL"]], env, log_path):
        yield log_path.read_text()


def test_flower_started_as_the_readme_says_runs_without_a_paynet_password(
    default_loader_flower: str,
) -> None:
    assert "ConfigError" not in default_loader_flower
    assert "PAYNET_PASSWORD" not in default_loader_flower


@pytest.mark.parametrize("app", [[], ["-A", "worker"]], ids=["default-loader", "the-app"])
def test_celery_inspect_reaches_the_workers_without_a_paynet_password(
    gateway_env: dict[str, str], start_workers: Callable[..., WorkerPool], app: list[str]
) -> None:
    start_workers()
    env = no_paynet_variable(gateway_env)
    done = subprocess.run(
        [sys.executable, "-m", "celery", *app, "--broker", env["REDIS_URL"],
         "inspect", "ping", "--timeout", "10"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pong" in done.stdout


def test_a_producer_importing_celeryconfig_needs_only_a_broker_url(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    code = "import celeryconfig; print(celeryconfig.broker_url, celeryconfig.task_default_queue)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["redis://127.0.0.1:1/0", "paynet"]


def test_the_worker_applies_the_limits_derived_from_the_paynet_settings(
    start_workers: Callable[..., WorkerPool], producer: Celery
) -> None:
    """conftest sets PAYNET_CALL_TIME_LIMIT=30, PAYNET_LOGIN_TIMEOUT=3 and a token wait of 20 s."""
    start_workers(env={"CELERY_VISIBILITY_TIMEOUT": "17"})
    inspect = producer.control.inspect(timeout=10)
    (conf,) = (inspect.conf() or {}).values()
    options = conf["broker_transport_options"]
    assert (options["visibility_timeout"], options["unacked_restore_interval"]) == (17, 1)
    assert options["max_connections"] == 1000  # celeryconfig's own, kept
    (registered,) = (inspect.registered("time_limit") or {}).values()
    assert "paynet.call [time_limit=30.0]" in registered
    assert "paynet.refresh_token [time_limit=56.05]" in registered
