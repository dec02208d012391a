"""Markdown tables for bench/RESULTS.md: the figures, the machine, the versions, the command."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from math import nan

from bench.counters import MARK, NOTE, REFRESHER, REQUEST
from bench.sections import (
    GOAL_POOLS,
    CostRow,
    MemoryRow,
    OverheadRow,
    ProfileRow,
    ScaleRow,
    StormRow,
    ratio,
)
from bench.stats import percentile
from bench.strategies import MODELS


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
        "| model | pool | round | tasks | revocations (took effect) | logins | rejections "
        "| failed | caught | extra p50 ms | extra p99 ms | extra max ms | store reads per "
        "process per token state | run s | others' CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {_pool(r)} | {r.round} | {r.tasks} | {r.revocations} "
            f"| {r.logins} | {r.rejections} | {r.failed} | {r.caught} | {_ms(r.extra_p50)} "
            f"| {_ms(r.extra_p99)} | {_ms(r.extra_max)} | {r.reads_per_process_state:.2f} "
            f"| {r.seconds:.1f} | {r.others_cpu:.0%} |"
        )
    return lines


def _pool(r: StormRow) -> str:
    return f"{r.kind} {r.processes}x{r.slots}"


def _p(values: Sequence[float], fraction: float) -> str:
    return "-" if not values else _ms(percentile(values, fraction))


def profile_of_storms(rows: Sequence[StormRow]) -> list[str]:
    """Where a caught task's extra latency goes, per storm (milliseconds)."""
    lines = [
        "| model | pool | round | refreshes | requested -> refresher starts p50 / max | start -> "
        "login p50 | login p50 | login answered -> token saved p50 | retries per caught task "
        "mean / max | a retry's start past its countdown p50 / p99 | token saved -> caught "
        "task runs again p50 / p99 | its last run -> end p50 | extra p50 / p99 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        p = r.profile
        retries = f"{statistics.mean(p.retries):.1f} / {max(p.retries)}" if p.retries else "-"
        lines.append(
            f"| {r.model} | {_pool(r)} | {r.round} | {len(p.saving)} "
            f"| {_p(p.pickup, 0.5)} / {_p(p.pickup, 1.0)} | {_p(p.to_login, 0.5)} "
            f"| {_p(p.login, 0.5)} | {_p(p.saving, 0.5)} | {retries} "
            f"| {_p(p.late, 0.5)} / {_p(p.late, 0.99)} "
            f"| {_p(p.resumed, 0.5)} / {_p(p.resumed, 0.99)} | {_p(p.last_run, 0.5)} "
            f"| {_ms(r.extra_p50)} / {_ms(r.extra_p99)} |"
        )
    return lines


@dataclass(frozen=True)
class CaughtCost:
    """What one task caught by a revocation costs Redis beyond a steady call."""

    row: StormRow
    all_clients: float
    gateway: float  # the gateway's own client
    by_kind: dict[str, float]

    @property
    def celery(self) -> float:
        """Celery's own (the retries' messages, their results), by difference."""
        return self.all_clients - self.gateway


def caught_costs(storms: Sequence[StormRow]) -> list[CaughtCost]:
    found = []
    for r in storms:
        if not r.caught or r.strategy not in MODELS:
            continue
        beyond = (r.redis_commands - r.steady_redis * r.tasks) / r.caught
        by_kind = {kind: n / r.caught for kind, n in r.gateway_redis.items()}
        found.append(CaughtCost(r, beyond, sum(by_kind.values()), by_kind))
    return found


def waiting_costs(storms: Sequence[StormRow]) -> list[str]:
    """What a task caught by a revocation costs beyond a steady-state call."""
    lines = [
        "| model | pool | round | caught tasks | a steady call's Redis commands | Redis commands "
        "per caught task, beyond a steady call "
        "(all clients) | Celery's | the gateway's own | of which mark reads | refresh requests "
        "| rejection notes | refresher | mark reads per process per revocation | statements "
        "per caught task |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in caught_costs(storms):
        r, k = c.row, c.by_kind
        marks = r.gateway_redis[MARK] / (r.token_processes * max(1, r.revocations))
        lines.append(
            f"| {r.model} | {_pool(r)} | {r.round} | {r.caught} | {r.steady_redis:.1f} "
            f"| {c.all_clients:.1f} "
            f"| {c.celery:.1f} "
            f"| {c.gateway:.1f} | {k[MARK]:.1f} | {k[REQUEST]:.1f} | {k[NOTE]:.1f} "
            f"| {k[REFRESHER]:.1f} | {marks:.1f} | {r.statements / r.caught:.2f} |"
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


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _is(r: StormRow, pool: tuple[str, int, int]) -> bool:
    return (r.kind, r.processes, r.slots) == pool


def _by_pool(
    rows: Sequence[StormRow], model: str, variant: str = ""
) -> dict[tuple[str, int, int], list[StormRow]]:
    """The rounds of ``model`` (as configured by default, or ``variant``), by pool, in the
    order they ran."""
    found: dict[tuple[str, int, int], list[StormRow]] = {}
    for r in rows:
        if r.strategy == model and r.variant == variant:
            found.setdefault((r.kind, r.processes, r.slots), []).append(r)
    return found


def pooled_p99(rows: Sequence[StormRow]) -> float:
    """p99 of the extra latency of every caught task of these rounds."""
    return percentile([x for r in rows for x in r.extra], 0.99)


def storm_goals(storms: Sequence[StormRow]) -> list[str]:
    """One row per goal and model: latency, logins, Redis per caught task, store reads; for
    a variant, its latency and logins."""
    lines: list[str] = []
    variants = sorted({(r.strategy, r.variant) for r in storms if r.variant})
    for model, variant in [*((m, "") for m in MODELS), *variants]:
        pools = _by_pool(storms, model, variant)
        if not pools:
            continue
        rows = [r for found in pools.values() for r in found]
        name = rows[0].model
        lines += _latency_goal(name, pools)
        exact = all(r.logins == r.revocations + 1 for r in rows)
        logins = ", ".join(f"{r.logins} (K = {r.revocations})" for r in rows)
        lines.append(
            f"| {name}: logins exactly K + 1 in every storm (K: revocations that took effect) "
            f"| {logins} | {_verdict(exact)} |"
        )
        if variant:
            continue
        lines += _redis_goal(model, storms)
        reads = [r.reads_per_process_state for r in rows]
        lines.append(
            f"| {name}: token-store reads while waiting: at most one per process per token "
            f"state | {', '.join(f'{x:.2f}' for x in reads)} "
            f"| {_verdict(all(x <= 1 for x in reads))} |"
        )
    return lines


def _latency_goal(name: str, pools: dict[tuple[str, int, int], list[StormRow]]) -> list[str]:
    p99 = {pool: pooled_p99(found) for pool, found in pools.items()}
    measured = ", ".join(f"{_name(p)}: {_ms(v)}" for p, v in p99.items() if p in GOAL_POOLS)
    reported = ", ".join(f"{_name(p)}: {_ms(v)}" for p, v in p99.items() if p not in GOAL_POOLS)
    worst = max((v for p, v in p99.items() if p in GOAL_POOLS), default=nan)
    judged = all(pool in p99 for pool in GOAL_POOLS)
    return [
        f"| {name}: p99 extra latency of caught tasks < 300 ms at prefork 1x8, 2x8 and "
        f"gevent 1x100 (every round's caught tasks together) | {measured} ms"
        + (f" (reported: {reported} ms)" if reported else "")
        + f" | {_verdict(worst < 0.3) if judged else 'not all pools run'} |"
    ]


def _name(pool: tuple[str, int, int]) -> str:
    return f"{pool[0]} {pool[1]}x{pool[2]}"


def pooled_costs(
    storms: Sequence[StormRow], model: str
) -> dict[tuple[str, int, int], tuple[float, float]]:
    """Per pool, Redis commands per caught task over every round: (all clients beyond a
    steady call, the gateway's own)."""
    found: dict[tuple[str, int, int], tuple[float, float]] = {}
    for pool, rows in _by_pool(storms, model).items():
        priced = caught_costs(rows)
        caught = sum(c.row.caught for c in priced)
        if caught:
            found[pool] = (
                sum(c.all_clients * c.row.caught for c in priced) / caught,
                sum(c.gateway * c.row.caught for c in priced) / caught,
            )
    return found


def _redis_goal(model: str, storms: Sequence[StormRow]) -> list[str]:
    """Bounded per process, not per slot: slots sharing a process share its reads, so a task
    caught on gevent 1x100 (100 slots in one process) costs the gateway's client no more than
    one caught on prefork 1x8 (one slot per process)."""
    found = pooled_costs(storms, model)
    prefork, gevent = found.get(GOAL_POOLS[0]), found.get(GOAL_POOLS[2])
    if prefork is None or gevent is None:
        return []
    measured = ", ".join(f"{_name(p)}: {a:.0f} / {g:.1f}" for p, (a, g) in found.items())
    return [
        f"| {model}: Redis commands per caught task bounded per process, not per slot "
        "(the gateway's own per caught task at gevent 1x100 no more than at prefork 1x8) "
        f"| all clients beyond a steady call / the gateway's own: {measured} "
        f"| {_verdict(gevent[1] <= prefork[1])} |"
    ]


def goals(
    overhead: Sequence[OverheadRow],
    storms: Sequence[StormRow],
    costs: Sequence[CostRow],
    profile: Sequence[ProfileRow],
) -> list[str]:
    """The goals of the sections that ran."""
    lines = ["| goal | measured | verdict |", "|---|---|---|", *storm_goals(storms)]
    ratios = ([ratio(list(overhead))] if overhead else []) + [
        _rate(profile, r.kind, r.slots, "paynet.call") / _rate(profile, r.kind, r.slots, r.task)
        for r in profile
        if r.task == "bench.bare_call"
    ]
    if ratios:
        lines.append(
            f"| gateway / bare task throughput >= 0.95 on every pool kind | "
            f"{', '.join(f'{x:.3f}' for x in ratios)} | {_verdict(min(ratios) >= 0.95)} |"
        )
    if profile:
        gevent = _rate(profile, "gevent", 100, "paynet.call")
        prefork8 = _rate(profile, "prefork", 8, "paynet.call")
        lines.append(
            f"| gevent 1x100 >= 5x prefork 1x8 at 200 ms | {gevent:.0f} / {prefork8:.0f} "
            f"tasks/s = {gevent / prefork8:.1f}x | {_verdict(gevent >= 5 * prefork8)} |"
        )
    if costs:
        bare, unkeyed, keyed = costs[0], costs[1], costs[2]
        extra_redis = unkeyed.redis_per_task - bare.redis_per_task
        statements = keyed.statements_per_task - keyed.pings_per_task
        lines += [
            f"| unkeyed call: no Redis command beyond Celery's own, no statement | "
            f"{extra_redis:+.2f} commands, {unkeyed.statements_per_task:.2f} statements per "
            f"call | {_verdict(extra_redis < 0.5 and unkeyed.statements_per_task == 0)} |",
            f"| keyed payment: at most 3 database statements | {statements:.2f} statements, "
            f"and {keyed.pings_per_task:.2f} pool pre-pings (one per checkout) "
            f"| {_verdict(statements <= 3)} |",
        ]
    return lines
