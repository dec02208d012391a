"""Markdown tables for bench/RESULTS.md: the figures, the machine, the versions, the command."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from math import nan

from bench.sections import (
    CostRow,
    MemoryRow,
    OverheadRow,
    ProfileRow,
    ScaleRow,
    StormRow,
    ratio,
)


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
        for name in (
            "celery",
            "kombu",
            "redis",
            "sqlalchemy",
            "requests",
            "psycopg2-binary",
            "gevent",
        )
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
        "| strategy | pool | tasks | revocations (took effect) | logins | rejections | failed "
        "| caught | extra p50 ms | extra p99 ms | extra max ms | store reads per process per "
        "token state | run s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.strategy} | {r.kind} {r.processes}x{r.slots} | {r.tasks} | {r.revocations} "
            f"| {r.logins} | {r.rejections} | {r.failed} | {r.caught} | {_ms(r.extra_p50)} "
            f"| {_ms(r.extra_p99)} | {_ms(r.extra_max)} | {r.reads_per_process_state:.2f} "
            f"| {r.seconds:.1f} |"
        )
    return lines


def waiting_costs(rows: Sequence[CostRow], storms: Sequence[StormRow]) -> list[str]:
    """What a task caught by a revocation costs beyond a steady-state call."""
    unkeyed = next(r for r in rows if r.what == "unkeyed call")
    lines = [
        "| storm pool | caught tasks | Redis commands per caught task, beyond a steady call "
        "| statements per caught task |",
        "|---|---:|---:|---:|",
    ]
    for r in storms:
        if r.strategy != "single_flight" or not r.caught:
            continue
        extra_redis = (r.redis_commands - unkeyed.redis_per_task * r.tasks) / r.caught
        lines.append(
            f"| {r.kind} {r.processes}x{r.slots} | {r.caught} | {extra_redis:.1f} "
            f"| {r.statements / r.caught:.2f} |"
        )
    return lines


def cost_table(rows: Sequence[CostRow]) -> list[str]:
    bare = rows[0]
    lines = [
        "| task | tasks | Redis commands per task | beyond the bare task | database statements "
        "per task (pings included) | of which pings |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.what} | {r.tasks} | {r.redis_per_task:.2f} "
            f"| {r.redis_per_task - bare.redis_per_task:+.2f} | {r.statements_per_task:.2f} "
            f"| {r.pings_per_task:.2f} |"
        )
    return lines


def profile_table(rows: Sequence[ProfileRow]) -> list[str]:
    lines = [
        "| pool | task | tasks | tasks/s | gateway / bare | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        bare = next(b for b in rows if b.kind == r.kind and b.slots == r.slots)
        rel = "-" if r is bare else f"{r.timing.per_second / bare.timing.per_second:.3f}"
        t = r.timing
        lines.append(
            f"| {r.kind} {r.processes}x{r.slots} | {r.task} | {t.count} | {t.per_second:.0f} "
            f"| {rel} | {_ms(t.p50)} | {_ms(t.p99)} |"
        )
    return lines


def _rate(rows: Sequence[ProfileRow], kind: str, slots: int, task: str) -> float:
    found = [r.timing.per_second for r in rows if (r.kind, r.slots, r.task) == (kind, slots, task)]
    return found[0] if found else nan


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


def goals(
    overhead: Sequence[OverheadRow],
    storms: Sequence[StormRow],
    costs: Sequence[CostRow],
    profile: Sequence[ProfileRow],
) -> list[str]:
    gateway = [r for r in storms if r.strategy == "single_flight"]
    prefork = [r for r in gateway if r.kind == "prefork"]
    exact = all(r.logins == r.revocations + 1 for r in gateway)
    worst_p99 = max((r.extra_p99 for r in prefork), default=nan)
    reads = [r.reads_per_process_state for r in gateway]
    ratios = [ratio(list(overhead))] + [
        _rate(profile, r.kind, r.slots, "paynet.call") / _rate(profile, r.kind, r.slots, r.task)
        for r in profile
        if r.task == "bench.bare_call"
    ]
    gevent = _rate(profile, "gevent", 100, "paynet.call")
    prefork8 = _rate(profile, "prefork", 8, "paynet.call")
    bare, unkeyed, keyed = costs[0], costs[1], costs[2]
    extra_redis = unkeyed.redis_per_task - bare.redis_per_task

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    return [
        "| goal | measured | verdict |",
        "|---|---|---|",
        f"| logins exactly K + 1 in every gateway storm (K: revocations that took effect) | "
        f"{', '.join(f'{r.logins} (K = {r.revocations})' for r in gateway)} | {verdict(exact)} |",
        f"| p99 extra latency of caught tasks < 300 ms at 1x8, 2x8, 4x16 | "
        f"{', '.join(_ms(r.extra_p99) for r in prefork)} ms | {verdict(worst_p99 < 0.3)} |",
        f"| token-store reads while waiting: at most one per process per token state | "
        f"{', '.join(f'{x:.2f}' for x in reads)} | {verdict(all(x <= 1 for x in reads))} |",
        f"| gateway / bare task throughput >= 0.95 on every pool kind | "
        f"{', '.join(f'{x:.3f}' for x in ratios)} | {verdict(min(ratios) >= 0.95)} |",
        f"| gevent 1x100 >= 5x prefork 1x8 at 200 ms | {gevent:.0f} / {prefork8:.0f} tasks/s = "
        f"{gevent / prefork8:.1f}x | {verdict(gevent >= 5 * prefork8)} |",
        f"| unkeyed call: no Redis command beyond Celery's own, no statement | "
        f"{extra_redis:+.2f} commands, {unkeyed.statements_per_task:.2f} statements per call "
        f"| {verdict(extra_redis < 0.5 and unkeyed.statements_per_task == 0)} |",
        f"| keyed payment: at most 3 database statements | "
        f"{keyed.statements_per_task - keyed.pings_per_task:.2f} statements, and "
        f"{keyed.pings_per_task:.2f} pool pre-pings (one per checkout) "
        f"| {verdict(keyed.statements_per_task - keyed.pings_per_task <= 3)} |",
    ]
