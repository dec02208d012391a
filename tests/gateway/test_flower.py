"""What an operator sees in Flower: readable task names, and arguments without payment details."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from celery import Celery

from devservices.ports import free_port
from simulator import Simulator
from tests.support.workers import REPO_ROOT, WorkerPool

PHONE = "998901234567"


@pytest.fixture
def flower(gateway_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**gateway_env, "FLOWER_UNAUTHENTICATED_API": "true"}
    with (tmp_path / "flower.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", "flower",
             f"--port={port}", "--address=127.0.0.1"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(url + "/healthcheck"):
            assert process.poll() is None, (tmp_path / "flower.log").read_text()
            assert time.monotonic() < deadline, "Flower did not answer"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def tasks_seen(flower: str, count: int) -> dict[str, dict[str, Any]]:
    """Flower's view of the tasks, once it has seen ``count`` of them finish."""
    deadline = time.monotonic() + 30
    while True:
        tasks: dict[str, dict[str, Any]] = requests.get(flower + "/api/tasks", timeout=5).json()
        done = [t for t in tasks.values() if t["state"] in ("SUCCESS", "FAILURE")]
        if len(done) >= count or time.monotonic() > deadline:
            return tasks
        time.sleep(0.2)


def test_flower_shows_task_names_and_the_method_profile_and_key_but_no_payment_details(
    flower: str,
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    password: str,
) -> None:
    start_workers()
    kwargs = {
        "method": "performTransaction",
        "params": {"id": "order-5", "service_id": 101, "fields": {"phone": PHONE}, "amount": 500},
        "idempotency_key": "order-5",
    }
    shown = {"method": "performTransaction", "profile": "default", "idempotency_key": "order-5"}
    # The first call finds no token and waits: it runs three times (retries), under one id.
    result = producer.send_task("paynet.call", kwargs=kwargs, kwargsrepr=repr(shown))
    assert result.get(timeout=30)["agentTransactionId"] == "order-5"

    tasks = tasks_seen(flower, count=2)
    names = sorted(task["name"] for task in tasks.values())
    assert names == ["paynet.call", "paynet.refresh_token"]
    payment = tasks[result.id]
    assert payment["state"] == "SUCCESS"
    assert "'method': 'performTransaction'" in payment["kwargs"]
    assert "'profile': 'default'" in payment["kwargs"]
    assert "'idempotency_key': 'order-5'" in payment["kwargs"]
    assert payment["retries"] >= 1, "the payment never waited: the retry's repr went untested"
    refresh = next(task for task in tasks.values() if task["name"] == "paynet.refresh_token")
    assert "'profile': 'default'" in refresh["kwargs"]
    everything = json.dumps(tasks)
    for secret in [PHONE, password, *simulator.issued_tokens()]:
        assert secret not in everything
