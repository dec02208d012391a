"""What an operator sees in Flower: readable task names, and arguments without payment details."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from celery import Celery

from simulator import Simulator
from tests.support.flower import running_flower
from tests.support.workers import WorkerPool

PHONE = "998901234567"


@pytest.fixture
def flower(gateway_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Flower as an operator starts it, with the broker's URL and nothing else of ours."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CELERY_BROKER_URL": gateway_env["REDIS_URL"],
        "FLOWER_UNAUTHENTICATED_API": "true",
    }
    with running_flower([], env, tmp_path / "flower.log") as url:
        yield url


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
        "params": {"id": "order-5", "service_id": 101, "fields": {"phone": PHONE}, "amount": 777},
        "idempotency_key": "order-5",
    }
    shown = {"method": "performTransaction", "profile": "default", "idempotency_key": "order-5"}
    # A slow login: one of the two calls logs in, the other waits for it and retries (its
    # retry carries the masking repr again, which is what this checks).
    simulator.inject_fault("login", "slow", count=1, delay=1.5)
    result = producer.send_task("paynet.call", kwargs=kwargs, kwargsrepr=repr(shown))
    echo = producer.send_task(
        "paynet.call",
        kwargs={"method": "echo", "params": {"phone": PHONE}},
        kwargsrepr=repr({"method": "echo", "profile": "default"}),
    )
    paid = result.get(timeout=30)
    assert [paid["transactionId"]] == simulator.transaction_ids("order-5")
    assert echo.get(timeout=30) == {"phone": PHONE}  # the producer gets the whole result

    tasks = tasks_seen(flower, count=2)
    assert sorted(task["name"] for task in tasks.values()) == ["paynet.call", "paynet.call"]
    payment = tasks[result.id]
    assert payment["state"] == "SUCCESS"
    assert "'method': 'performTransaction'" in payment["kwargs"]
    assert "'profile': 'default'" in payment["kwargs"]
    assert "'idempotency_key': 'order-5'" in payment["kwargs"]
    # The result as a summary: its transaction id and status, not its amount or fields.
    assert f"transactionId={paid['transactionId']} status=0" in payment["result"]
    assert "amount" not in payment["result"] and "777" not in payment["result"]
    assert tasks[echo.id]["result"] == "<result: 1 fields>"
    retried = max(tasks.values(), key=lambda task: task["retries"])
    assert retried["retries"] >= 1, "no call waited: the retry's repr went untested"
    assert "params" not in retried["kwargs"] or "fields>" in retried["kwargs"]
    everything = json.dumps(tasks)
    for secret in [PHONE, password, *simulator.issued_tokens()]:
        assert secret not in everything
