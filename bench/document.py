"""bench/RESULTS.md from the figures of one run: the sections that ran, in order."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import report
from bench.harness import CALL_LATENCY, LOGIN_LATENCY
from bench.sections import CostRow, MemoryRow, OverheadRow, ProfileRow, ScaleRow, StormRow

# Where a goal is missed, what the profile says and what it would take (written from the run
# these results come from; the verdicts in the goals table say which goals).
MISSED_GOALS: list[str] = []
# What the storms' profile shows (section 2), written from the same run.
STORM_FINDINGS: list[str] = []


@dataclass(frozen=True)
class Run:
    command: str
    seconds: float
    machine: list[str]  # the date, the machine, the versions: when the run measured
    storm_tasks: int
    revocations: int
    profile_latency: float


@dataclass
class Figures:
    overhead: list[OverheadRow] = field(default_factory=list)
    storms: list[StormRow] = field(default_factory=list)
    costs: list[CostRow] = field(default_factory=list)
    profile: list[ProfileRow] = field(default_factory=list)
    memory: list[MemoryRow] = field(default_factory=list)
    scale: list[ScaleRow] = field(default_factory=list)


def document(run: Run, f: Figures) -> list[str]:
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{run.command}`; total {run.seconds:.0f} s. Simulated Paynet latency: "
        f"{CALL_LATENCY * 1000:.0f} ms per call, {LOGIN_LATENCY * 1000:.0f} ms per login; "
        "Redis broker and result backend; default token settings.",
        "",
        *run.machine,
        "",
        "## Goals",
        "",
        *report.goals(f.overhead, f.storms, f.costs, f.profile),
        "",
        *MISSED_GOALS,
    ]
    if f.overhead:
        lines += overhead(f)
    if f.storms:
        lines += storms(run, f)
    if f.costs or f.storms:
        lines += costs(f)
    if f.profile:
        lines += latency(run, f)
    if f.memory:
        lines += [
            "",
            "## 5. Memory: peak resident memory per worker process (1 x 8 prefork)",
            "",
            *report.memory_table(f.memory),
        ]
    if f.scale:
        lines += [
            "",
            "## 6. Scale: paynet.call throughput by worker processes (8 slots each)",
            "",
            *report.scale_table(f.scale),
        ]
    return [*lines, ""]


def overhead(f: Figures) -> list[str]:
    return [
        "",
        "## 1. Overhead: paynet.call versus a bare task (one pool of 1 process x 8 slots)",
        "",
        "The bare task does the same HTTP POST with a fixed token and no token management. "
        "Batches alternate in the same pool and run; token-store reads are counted with "
        "SQLAlchemy cursor events in the workers (section 3 of the issue: the hot path).",
        "",
        *report.overhead_table(f.overhead),
    ]


def storms(run: Run, f: Figures) -> list[str]:
    return [
        "",
        f"## 2. Invalidation storms: {run.storm_tasks} tasks, {run.revocations} revocations, "
        "a new login invalidates older tokens",
        "",
        "Two models of the gateway, each storm run for both, one after the other, in the same "
        "run: `single_flight` is the gateway as shipped (a task that needs a token publishes "
        "the dedicated `paynet.refresh_token` task, on its own queue, and waits by retrying "
        "with a countdown on the `paynet.wait` queue; the token's mark is read once per "
        "process per 50 ms); `refresh_in_place` is the gateway before issue 18, rebuilt in "
        "[`bench/in_place.py`](in_place.py) (the task that requests the refresh logs in "
        "itself, at once; the others watch the mark in their slot, doubling steps of 0.01 to "
        "0.32 s, 0.63 s in all, before they retry on the token queue). `lock_only` and `naive`"
        " (with `--baselines`) are what no design would ship: a refresh per rejected task, "
        "under the lock, without the generation check; every rejected task logging in.",
        "",
        "The goal's pools (prefork 1x8, 2x8, gevent 1x100) run two rounds, the order of the "
        "models reversed in the second; prefork 4x16 and threads 1x32 once. Then the "
        "single-flight model runs otherwise, to see what its missed goals would take: with a "
        "worker of its own for the refresh task (`token worker`: 1 process x 1 consuming "
        "`paynet.token` only, the pool the other two queues), two rounds on the goal's pools; "
        "and with `token.wait_step` at 0.05 s instead of 0.1 s, once on prefork 1x8.",
        "",
        "A warm-up batch (2 x the pool's slots) logs in first, the first of the K + 1 logins; "
        "then the storm's tasks are sent and a live token is revoked at each quarter of them. "
        "Caught tasks are those the storm held up: Paynet rejected their token, or they "
        "decided to wait for a refresh (their process knew the token rejected, or found a "
        "refresh under way). Their extra latency runs from that first moment to their end "
        "(one normal call included). Others' CPU: the share of the machine's CPU that "
        "processes other than the bench's used during the storm (the machine is shared).",
        "",
        *report.storm_table(f.storms),
        "",
        "Each revocation revokes a live token: right after one, no valid token may exist until "
        "the refresh lands, and the bench revokes again only once one does (`revocations` "
        "counts those that took effect). Store reads per process per token state: the token "
        "provider's reads of the store (those of waiting and rejected tasks; the refresher's "
        "own reads under its lock are a login's cost) divided by (processes with a token "
        "cache of their own x (logins + 1)), the + 1 for the state before the first login.",
        "",
        "### Where a caught task's time goes",
        "",
        "From moments the workers note (bench/app.py; bench/profile.py takes them apart), in "
        "milliseconds. Per refresh: from its request (the refresh task published; in place, "
        "the asking task starting it) to a refresher starting on it, from there to the login "
        "(lock, budget, reads), the login itself, and from Paynet's answer to the token saved "
        "(fence, save, mark). Per caught task: its retries through the broker, and from the "
        "token saved to its next run.",
        "",
        *report.profile_of_storms(f.storms),
        "",
        *STORM_FINDINGS,
    ]


def costs(f: Figures) -> list[str]:
    lines = [
        "",
        "## 3. What a call costs the shared Redis and PostgreSQL",
        "",
        "Across hosts, Redis and PostgreSQL are the ceiling, so this counts (does not time): "
        "Redis commands of every client (producer, broker, result backend, gateway) from "
        "`INFO commandstats`, less the bench's own counters; database statements the gateway "
        "sent, counted by SQLAlchemy cursor events in the workers, plus the connection pool's "
        "pre-ping on each checkout.",
    ]
    if f.costs:
        lines += [
            "",
            "In the steady state, on one pool of 1 process x 8 slots. Completion is watched at "
            "the simulator, so watching costs Redis nothing; an idle worker's own broker "
            "polling is in every row alike.",
            "",
            *report.cost_table(f.costs),
        ]
    if f.storms:
        lines += [
            "",
            "A task caught by a storm, from the storms above (both models): every client's "
            "Redis commands during the storm (its end watched through the bench's own "
            "counters, so watching costs nothing counted), less a steady call's for each task "
            "(measured on the same pool just before the storm: as many calls, with a live token), "
            "per caught task; the gateway's own client's commands counted in the workers by "
            "kind (mark reads; refresh requests, one SET NX each time a task decides to wait; "
            "the last rejection, for operators; the refresher's lock, budget, request upkeep "
            "and new mark); Celery's (each retry is a message, with its result) by difference. "
            "Mark reads per process per revocation: a process is a pool child on prefork, the "
            "whole worker on threads and gevent.",
            "",
            *report.waiting_costs(f.storms),
        ]
    return lines


def latency(run: Run, f: Figures) -> list[str]:
    return [
        "",
        f"## 4. Paynet at {run.profile_latency * 1000:.0f} ms per call: throughput by pool kind",
        "",
        "A real payment API answers in 100-500 ms. Each pool runs the bare task and the "
        "gateway, in that order, in the same run; enough tasks to keep every slot busy for "
        "about ten seconds.",
        "",
        *report.profile_table(f.profile),
    ]
