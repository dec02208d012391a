"""Running the pieces a benchmark needs: services, simulator, worker pools, a producer."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from celery import Celery
from celery.result import AsyncResult
from cryptography.fernet import Fernet
from redis import Redis
from sqlalchemy import delete

from devservices.stack import Services
from devservices.workers import WorkerPool
from simulator import Account, Simulator
from worker.db.engine import make_engine
from worker.db.schema import upgrade
from worker.db.tables import metadata
from worker.paynet.client import PaynetClient
from worker.settings import ProfileSettings

USERNAME = "username_17627_56530"
TERMINAL_ID = 4027096
CALL_LATENCY = 0.005
LOGIN_LATENCY = 0.05


@dataclass
class Bench:
    services: Services
    simulator: Simulator
    password: str
    workdir: Path
    redis: Redis
    producer: Celery
    call_latency: float = CALL_LATENCY
    # One key for every pool of the run: a refresh task sealed by one pool is opened by another.
    token_key: str = field(default_factory=lambda: Fernet.generate_key().decode())

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PAYNET_", "CELERY_"))}
        base.update(
            PAYNET_BASE_URL=self.simulator.url,
            PAYNET_USERNAME=USERNAME,
            PAYNET_PASSWORD=self.password,
            PAYNET_TERMINAL_ID=str(TERMINAL_ID),
            PAYNET_TOKEN_KEY=self.token_key,
            DATABASE_URL=self.services.database_url,
            REDIS_URL=self.services.redis_url,
            PAYNET_LOGIN_BUDGET="1000000",
            LOG_LEVEL="INFO",
        )
        base.update(extra)
        return base

    def reset(self) -> None:
        """No token, no ledger, empty queues, a fresh simulator with the fixed latencies."""
        self.redis.flushdb()
        engine = make_engine(self.services.database_url)
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(delete(table))
        engine.dispose()
        self.simulator.reset()
        self.simulator.configure(call_latency=self.call_latency, login_latency=LOGIN_LATENCY)

    def fixed_token(self) -> str:
        profile = ProfileSettings(
            base_url=self.simulator.url,
            username=USERNAME,
            password=self.password,
            terminal_id=TERMINAL_ID,
        )
        return PaynetClient(profile).login().token

    @contextmanager
    def pool(
        self,
        processes: int,
        slots: int,
        kind: str = "prefork",
        queues: str | None = None,
        **env: str,
    ) -> Iterator[WorkerPool]:
        log_dir = self.workdir / f"pool-{time.monotonic_ns()}"
        log_dir.mkdir(parents=True)
        workers = WorkerPool(
            self.env(**env), log_dir, processes, slots, kind, queues, app="bench.app"
        )
        try:
            workers.wait_ready()
            yield workers
        finally:
            workers.stop()

    def own_processes(self) -> list[int]:
        """The roots of every process the bench runs: itself (workers, Redis, the simulator's
        threads) and an embedded PostgreSQL."""
        postgres = self.services.postgres
        pid = postgres.pid if postgres is not None else None
        return [os.getpid(), *([pid] if pid is not None else [])]


class OthersCpu:
    """The share of the machine's CPU that processes other than the bench's used between
    ``start`` and ``stop`` (the machine is shared): 0.5 on 2 cores is one core busy with
    others' work."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.share = 0.0

    def _ours(self) -> dict[int, float]:
        found: dict[int, float] = {}
        for root in self.roots:
            try:
                parent = psutil.Process(root)
                processes = [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for process in processes:
                try:
                    times = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                found[process.pid] = times.user + times.system
        return found

    @staticmethod
    def _busy() -> float:
        times = psutil.cpu_times()
        return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))

    def start(self) -> OthersCpu:
        self._started = time.monotonic()
        self._busy_before, self._ours_before = self._busy(), self._ours()
        return self

    def stop(self) -> None:
        wall = time.monotonic() - self._started
        ours = sum(t - self._ours_before.get(pid, 0.0) for pid, t in self._ours().items())
        others = self._busy() - self._busy_before - ours
        self.share = max(0.0, others) / (wall * (os.cpu_count() or 1)) if wall > 0 else 0.0


def make_producer(url: str) -> Celery:
    app = Celery("bench-producer", broker=url, backend=url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_extended=True,
        broker_connection_retry_on_startup=True,
    )
    return app


def setup(services: Services, simulator: Simulator, password: str, workdir: Path) -> Bench:
    engine = make_engine(services.database_url)
    upgrade(engine)
    engine.dispose()
    return Bench(
        services,
        simulator,
        password,
        workdir,
        Redis.from_url(services.redis_url),
        make_producer(services.redis_url),
    )


def account(password: str) -> Account:
    return Account(username=USERNAME, password=password, terminal_id=str(TERMINAL_ID))


@dataclass(frozen=True)
class Batch:
    sent: list[float]
    results: list[AsyncResult]


def payment(key: str) -> dict[str, Any]:
    """A keyed performTransaction, its agent id the key (the ledger's path)."""
    params = {"id": key, "service_id": 101, "time": 1764158400000, "amount": 15000}
    return {
        "method": "performTransaction",
        "params": {**params, "fields": {"phone": "998901234567"}},
        "idempotency_key": key,
    }


def submit(bench: Bench, task: str, count: int, offset: int = 0, keyed: bool = False) -> Batch:
    sent: list[float] = []
    results: list[AsyncResult] = []
    run = time.monotonic_ns()
    for i in range(count):
        params: dict[str, Any] = {"i": offset + i}
        kwargs = payment(f"bench-{run}-{i}") if keyed else {"method": "echo", "params": params}
        sent.append(time.time())
        results.append(bench.producer.send_task(task, kwargs=kwargs, queue="paynet"))
    return batch_of(sent, results)


def batch_of(sent: list[float], results: list[AsyncResult]) -> Batch:
    return Batch(sent, results)


def wait_all(batch: Batch, timeout: float) -> tuple[list[float], int]:
    """Epoch seconds each task finished, and how many failed."""
    deadline = time.monotonic() + timeout
    done: list[float] = []
    failed = 0
    for result in batch.results:
        while not result.ready():
            if time.monotonic() > deadline:
                raise TimeoutError("the batch did not finish in time")
            time.sleep(0.005)
        if result.failed():
            failed += 1
        finished = result.date_done
        done.append(finished.timestamp() if finished is not None else time.time())
    return done, failed


def peak_rss_mib(workers: WorkerPool) -> list[float]:
    """Peak resident memory (VmHWM) of every process of the pool, in MiB."""
    peaks: list[float] = []
    for worker in workers.workers:
        try:
            main = psutil.Process(worker.popen.pid)
            processes = [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in processes:
            try:
                with open(f"/proc/{process.pid}/status", encoding="ascii") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            peaks.append(int(line.split()[1]) / 1024)
            except OSError:
                continue
    return peaks
