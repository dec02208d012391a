"""examples/producer.py (its core in the README, its commands in docs/producer-guide.md), run
as a producer would run it, against real workers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from devservices.stack import Services
from simulator import Simulator
from tests.support.workers import REPO_ROOT, WorkerPool


def producer(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "examples/producer.py", *args],
        cwd=REPO_ROOT,
        env={"REDIS_URL": services.redis_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_the_example_pays_once_then_finds_the_payment_and_reports_an_unknown_one(
    start_workers: Callable[..., WorkerPool], real_services: Services, simulator: Simulator
) -> None:
    start_workers()
    paid = producer(real_services, "pay", "order-1842", "15000.50")
    assert paid.returncode == 0, paid.stderr
    result = json.loads(paid.stdout)
    assert result["agentTransactionId"] == "order-1842"
    assert result["amount"] == "15000.50"  # exact: a Decimal all the way, printed as text
    assert simulator.stats()["executions"] == {"order-1842": 1}

    found = producer(real_services, "check", "order-1842")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["transactionId"] == result["transactionId"]

    missing = producer(real_services, "check", "order-0000")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "PaynetRpcError -12007: transaction not found"
