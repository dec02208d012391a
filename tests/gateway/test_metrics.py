"""Prometheus metrics: what the workers' endpoints report after a storm is what Paynet counted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from celery import Celery
from celery.result import ResultSet
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, update

from devservices.ports import free_port
from simulator import Simulator
from tests.conftest import call
from tests.support.payments import pay
from tests.support.waiting import wait_for
from tests.support.workers import WorkerPool
from worker.core import metrics
from worker.db.tables import ledger
from worker.paynet import jsonrpc
from worker.paynet.client import outcome_label

TASKS = 120
REVOCATIONS = 2


def scrape(ports: list[int]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of every endpoint, summed over the endpoints (one per worker host)."""
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for port in ports:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def total(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


@pytest.mark.slow
def test_a_scrape_after_a_storm_shows_the_logins_and_rejections_the_simulator_counted(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    ports = [free_port(), free_port()]
    for port in ports:  # two hosts, each serving its own endpoint
        start_workers(processes=1, concurrency=8, env={"METRICS_PORT": str(port)})
    simulator.configure(invalidate_on_login=True, call_latency=0.05)
    results = ResultSet([call(producer, params={"i": i}) for i in range(TASKS)])
    for revocation in range(1, REVOCATIONS + 1):
        wait_for(lambda r=revocation: simulator.stats()["logins_succeeded"] == r)
        wait_for(lambda: simulator.stats()["calls"] >= 20 * simulator.stats()["logins_succeeded"])
        wait_for(lambda: simulator.revoke() > 0)  # a live token, revoked
    assert results.join(timeout=120) == [{"i": i} for i in range(TASKS)]

    stats = simulator.stats()
    samples = scrape(ports)
    assert stats["logins_succeeded"] == 1 + REVOCATIONS
    assert total(samples, "paynet_logins_total", outcome="succeeded") == stats["logins_succeeded"]
    assert total(samples, "paynet_token_rejections_total") == stats["rejections"] >= REVOCATIONS
    # A request can race the end of the refresh it asks for; the generation check answers it
    # without a login, so requests enqueued are at least, not exactly, the logins.
    enqueued = total(samples, "paynet_refresh_requests_total", result="enqueued")
    assert enqueued >= 1 + REVOCATIONS
    # Each process asks at most once a second per generation; the others found it asked.
    assert total(samples, "paynet_refresh_requests_total", result="deduplicated") > 0
    calls = total(samples, "paynet_call_duration_seconds_count", method="echo")
    assert calls == stats["calls_by_method"]["echo"]
    assert total(samples, "paynet_call_duration_seconds_count", outcome="result") == TASKS
    assert total(samples, "paynet_token_wait_seconds_count", outcome="token") > 0


def test_the_ledger_gauge_counts_keys_without_an_outcome_by_state_at_each_scrape(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
) -> None:
    port = free_port()
    start_workers(env={"METRICS_PORT": str(port)})
    for key in ("gauge-1", "gauge-2"):
        pay(producer, key).get(timeout=30)
    samples = scrape([port])
    assert total(samples, "paynet_ledger_keys", state="sent") == 0
    assert total(samples, "paynet_ledger_keys", state="unknown") == 0
    states = {dict(labels).get("state") for name, labels in samples if name == "paynet_ledger_keys"}
    assert states == {"received", "sent", "unknown"}  # finished keys are not counted
    with engine.begin() as conn:  # what an operator must settle, as the alert rule sees it
        conn.execute(
            update(ledger).where(ledger.c.idempotency_key == "gauge-2").values(state="unknown")
        )
    samples = scrape([port])
    assert total(samples, "paynet_ledger_keys", state="unknown") == 1


def test_a_worker_whose_metrics_port_is_taken_refuses_to_start_in_one_line(
    start_workers: Callable[..., WorkerPool], simulator: Simulator
) -> None:
    workers = start_workers(env={"METRICS_PORT": str(simulator.port)}, wait=False)
    worker = workers.workers[0]
    assert worker.popen.wait(timeout=60) != 0
    assert f"paynet-gateway: cannot start: metrics.port {simulator.port}: cannot listen" in (
        worker.log()
    )


def test_a_given_multiprocess_directory_is_emptied_of_an_earlier_runs_counts(
    tmp_path: Path,
) -> None:
    stale = tmp_path / "counter_4242.db"
    stale.write_bytes(b"old counts")
    keep = tmp_path / "notes.txt"
    keep.write_text("not ours")
    environ = {metrics.MULTIPROC_VARIABLE: str(tmp_path)}
    directory, owned = metrics.prepare_directory(environ)
    assert (directory, owned) == (tmp_path, False)
    assert not stale.exists()
    assert keep.exists()


def test_metrics_built_again_after_the_switch_do_not_clash_with_the_first(tmp_path: Path) -> None:
    metrics.login("default", "succeeded")
    metrics.prepare_directory({metrics.MULTIPROC_VARIABLE: str(tmp_path)})
    metrics.login("default", "succeeded")  # a second registration would raise here


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (jsonrpc.RpcResult({"ok": 1}), "result"),
        (jsonrpc.RpcError(-9999, "unauthorized"), "rpc_error"),
        (jsonrpc.RpcError(-12007, "transaction not found"), "rpc_error"),
    ],
)
def test_each_answer_is_labelled_by_its_outcome(answer: jsonrpc.Answer, outcome: str) -> None:
    assert outcome_label(answer) == outcome
