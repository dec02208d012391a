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

ORDERED_AT = "2025-11-26T17:00:00+05:00"


def producer(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "examples/producer.py", *args],
        cwd=REPO_ROOT,
        # The broker's address and the package (this checkout's): no Paynet setting at all.
        env={
            "REDIS_URL": services.redis_url,
            "PYTHONPATH": str(REPO_ROOT),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_the_example_pays_once_however_often_it_is_run_then_finds_the_payment(
    start_workers: Callable[..., WorkerPool], real_services: Services, simulator: Simulator
) -> None:
    start_workers()
    paid = producer(real_services, "pay", "order-1842", "15000.50", "--ordered-at", ORDERED_AT)
    assert paid.returncode == 0, paid.stderr
    result = json.loads(paid.stdout)
    assert [result["transactionId"]] == simulator.transaction_ids("order-1842")
    assert [str(amount) for amount in simulator.amounts("order-1842")] == ["15000.50"]  # exact

    again = producer(real_services, "pay", "order-1842", "15000.50", "--ordered-at", ORDERED_AT)
    assert again.returncode == 0, again.stderr  # a resubmission, not an IdempotencyConflict
    assert json.loads(again.stdout) == result
    assert simulator.stats()["executions"] == {"order-1842": 1}

    found = producer(real_services, "check", "order-1842")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["transactionId"] == result["transactionId"]


def test_the_example_reports_an_unknown_payment_a_changed_one_and_a_time_without_zone(
    start_workers: Callable[..., WorkerPool], real_services: Services, simulator: Simulator
) -> None:
    start_workers()
    missing = producer(real_services, "check", "order-0000")
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "PaynetRpcError -12007: transaction not found",
    )

    assert (
        producer(real_services, "pay", "order-7", "10.00", "--ordered-at", ORDERED_AT).returncode
        == 0
    )
    changed = producer(real_services, "pay", "order-7", "11.00", "--ordered-at", ORDERED_AT)
    assert changed.returncode == 1
    assert changed.stderr.startswith("IdempotencyConflict: idempotency key 'order-7'")

    naive = producer(real_services, "pay", "order-8", "10.00", "--ordered-at", "2025-11-26T17:00")
    assert naive.returncode == 1
    assert naive.stderr.strip() == "InvalidRequest: ordered_at: a datetime needs its time zone"
    assert simulator.stats()["executions"] == {"order-7": 1}
