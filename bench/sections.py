"""The benchmark's sections; each returns plain rows for the report."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from math import nan

from bench.harness import Bench, peak_rss_mib, submit, wait_all
from bench.stats import Timing, percentile, summarize
from bench.strategies import STRATEGIES


def warm_up(bench: Bench, batches: int = 5) -> None:
    """Run gateway batches until one reads the token store no more: every child has a token."""
    for _ in range(batches):
        before = int(bench.redis.get("bench:store_reads") or 0)
        wait_all(submit(bench, "paynet.call", 200), 120)
        if int(bench.redis.get("bench:store_reads") or 0) == before:
            return


@dataclass(frozen=True)
class OverheadRow:
    kind: str
    timing: Timing
    store_reads_per_call: float | None


def overhead(bench: Bench, tasks: int, rounds: int) -> list[OverheadRow]:
    """Gateway versus the bare task: same pool, same broker, alternating batches."""
    bench.reset()
    rows: list[OverheadRow] = []
    with bench.pool(1, 8, BENCH_FIXED_TOKEN=bench.fixed_token()):
        wait_all(submit(bench, "bench.bare_call", 200), 120)
        warm_up(bench)
        for _ in range(rounds):
            for kind in ("bench.bare_call", "paynet.call"):
                reads_before = int(bench.redis.get("bench:store_reads") or 0)
                calls_before = bench.simulator.stats()["calls"]
                batch = submit(bench, kind, tasks)
                done, failed = wait_all(batch, 300)
                if failed:
                    raise RuntimeError(f"{failed} {kind} tasks failed in the overhead run")
                calls = bench.simulator.stats()["calls"] - calls_before
                reads = int(bench.redis.get("bench:store_reads") or 0) - reads_before
                per_call = reads / calls if kind == "paynet.call" else None
                rows.append(OverheadRow(kind, summarize(batch.sent, done), per_call))
    return rows


@dataclass(frozen=True)
class MemoryRow:
    kind: str
    peaks_mib: list[float]


def memory(bench: Bench, tasks: int) -> list[MemoryRow]:
    rows: list[MemoryRow] = []
    for kind in ("bench.bare_call", "paynet.call"):
        bench.reset()
        with bench.pool(1, 8, BENCH_FIXED_TOKEN=bench.fixed_token()) as workers:
            wait_all(submit(bench, kind, tasks), 300)
            rows.append(MemoryRow(kind, peak_rss_mib(workers)))
    return rows


@dataclass(frozen=True)
class StormRow:
    strategy: str
    processes: int
    slots: int
    tasks: int
    revocations: int
    logins: int
    rejections: int
    failed: int
    caught: int
    extra_p50: float
    extra_p99: float
    extra_max: float
    seconds: float


def storm(
    bench: Bench, strategy: str, processes: int, slots: int, tasks: int, revocations: int
) -> StormRow:
    bench.reset()
    with bench.pool(processes, slots, BENCH_STRATEGY=strategy):
        bench.simulator.configure(invalidate_on_login=True)
        started = time.monotonic()
        batch = submit(bench, "paynet.call", tasks)
        for n in range(1, revocations + 1):
            threshold = tasks * n // (revocations + 1)
            while bench.simulator.stats()["calls"] < threshold:
                time.sleep(0.005)
            bench.simulator.revoke()
        done, failed = wait_all(batch, 300)
        seconds = time.monotonic() - started
    stats = bench.simulator.stats()
    caught: dict[bytes, bytes] = bench.redis.hgetall("bench:caught")  # type: ignore[assignment]
    rejected_at = {key.decode(): float(value) for key, value in caught.items()}
    extra = [
        finished - rejected_at[result.id]
        for result, finished in zip(batch.results, done, strict=True)
        if result.id in rejected_at
    ]
    p50, p99, worst = percentile(extra, 0.5), percentile(extra, 0.99), max(extra, default=nan)
    return StormRow(
        strategy, processes, slots, tasks, revocations,
        stats["logins_attempted"], stats["rejections"], failed, len(extra),
        p50, p99, worst, seconds,
    )  # fmt: skip


def storms(
    bench: Bench, pools: list[tuple[int, int]], tasks: int, revocations: int
) -> list[StormRow]:
    return [
        storm(bench, strategy, processes, slots, tasks, revocations)
        for strategy in STRATEGIES
        for processes, slots in pools
    ]


@dataclass(frozen=True)
class ScaleRow:
    processes: int
    slots: int
    timing: Timing


def scale(bench: Bench, process_counts: list[int], slots: int, tasks: int) -> list[ScaleRow]:
    rows: list[ScaleRow] = []
    for processes in process_counts:
        bench.reset()
        with bench.pool(processes, slots):
            wait_all(submit(bench, "paynet.call", 200), 120)
            batch = submit(bench, "paynet.call", tasks)
            done, _failed = wait_all(batch, 300)
            rows.append(ScaleRow(processes, slots, summarize(batch.sent, done)))
    return rows


def ratio(rows: list[OverheadRow]) -> float:
    def rate(kind: str) -> float:
        return statistics.mean(r.timing.per_second for r in rows if r.kind == kind)

    return rate("paynet.call") / rate("bench.bare_call")
