"""Markdown tables for bench/RESULTS.md: the figures, the machine, the versions, the command."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version

from bench.sections import MemoryRow, OverheadRow, ScaleRow, StormRow, ratio


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def machine(redis_version: str, database: str) -> list[str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    packages = ", ".join(
        f"{name} {version(name)}"
        for name in ("celery", "kombu", "redis", "sqlalchemy", "requests", "psycopg2-binary")
    )
    return [
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, {platform.platform()}",
        f"- Python {platform.python_version()}; {packages}",
        f"- Redis server {redis_version}; database: {database}",
    ]


def overhead_table(rows: Sequence[OverheadRow]) -> list[str]:
    lines = [
        "| task | tasks | tasks/s | p50 ms | p99 ms | token-store reads per call |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        t = row.timing
        reads = "-" if row.store_reads_per_call is None else f"{row.store_reads_per_call:.4f}"
        lines.append(
            f"| {row.kind} | {t.count} | {t.per_second:.0f} | {_ms(t.p50)} | {_ms(t.p99)} "
            f"| {reads} |"
        )
    lines.append("")
    lines.append(f"Throughput ratio, gateway / bare task: **{ratio(list(rows)):.3f}**")
    return lines


def storm_table(rows: Sequence[StormRow]) -> list[str]:
    lines = [
        "| strategy | pool (proc x slots) | tasks | revocations | logins | rejections | failed "
        "| caught | extra p50 ms | extra p99 ms | extra max ms | run s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.strategy} | {r.processes}x{r.slots} | {r.tasks} | {r.revocations} | {r.logins} "
            f"| {r.rejections} | {r.failed} | {r.caught} | {_ms(r.extra_p50)} "
            f"| {_ms(r.extra_p99)} | {_ms(r.extra_max)} | {r.seconds:.1f} |"
        )
    return lines


def memory_table(rows: Sequence[MemoryRow]) -> list[str]:
    lines = ["| task | processes | peak RSS per process MiB (max) | mean |", "|---|---:|---:|---:|"]
    for row in rows:
        peaks = row.peaks_mib or [float("nan")]
        lines.append(
            f"| {row.kind} | {len(row.peaks_mib)} | {max(peaks):.1f} "
            f"| {statistics.mean(peaks):.1f} |"
        )
    return lines


def scale_table(rows: Sequence[ScaleRow]) -> list[str]:
    lines = [
        "| processes x slots | tasks | tasks/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        t = row.timing
        lines.append(
            f"| {row.processes}x{row.slots} | {t.count} | {t.per_second:.0f} | {_ms(t.p50)} "
            f"| {_ms(t.p99)} |"
        )
    return lines


def goals(overhead: Sequence[OverheadRow], storms: Sequence[StormRow]) -> list[str]:
    gateway = [r for r in storms if r.strategy == "single_flight"]
    exact = all(r.logins == r.revocations + 1 for r in gateway)
    worst_p99 = max((r.extra_p99 for r in gateway), default=float("nan"))
    reads = [r.store_reads_per_call for r in overhead if r.store_reads_per_call is not None]
    the_ratio = ratio(list(overhead))

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    return [
        "| goal | measured | verdict |",
        "|---|---|---|",
        f"| logins exactly K + 1 in every gateway storm | "
        f"{', '.join(str(r.logins) for r in gateway)} "
        f"(K = {gateway[0].revocations if gateway else '-'}) "
        f"| {verdict(exact)} |",
        f"| throughput >= 0.95 of the bare task | {the_ratio:.3f} | {verdict(the_ratio >= 0.95)} |",
        f"| p99 extra latency of caught tasks < 1 s | {_ms(worst_p99)} ms (worst pool) "
        f"| {verdict(worst_p99 < 1.0)} |",
        f"| zero token-store reads per call in the steady state | "
        f"{', '.join(f'{x:.4f}' for x in reads)} | {verdict(all(x == 0 for x in reads))} |",
    ]
