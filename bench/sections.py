"""The benchmark's sections; each returns plain rows for the report."""

from __future__ import annotations

import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from math import nan

from bench.counters import CAUGHT, COUNTS, EVENTS, KINDS, NOT_COUNTED
from bench.harness import CALL_LATENCY, Bench, OthersCpu, peak_rss_mib, submit, wait_all
from bench.profile import StormProfile, profile
from bench.stats import Timing, percentile, summarize
from worker.queues import CALL_QUEUE, TOKEN_QUEUE, WAIT_QUEUE


def count(bench: Bench, name: str) -> int:
    """A counter the bench app keeps in the workers (statements, store_reads, pings)."""
    return int(bench.redis.hget(COUNTS, name) or 0)


def redis_commands(bench: Bench) -> int:
    """Commands Redis has run, all clients, less the bench's own (its counters, INFO)."""
    stats = bench.redis.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in NOT_COUNTED)


def warm_up(bench: Bench, batches: int = 5, kind: str = "paynet.call") -> None:
    """Run batches until one reads the token store no more: every process has a token."""
    for _ in range(batches):
        before = count(bench, "store_reads")
        wait_all(submit(bench, kind, 200), 120)
        if count(bench, "store_reads") == before:
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
                reads_before = count(bench, "store_reads")
                calls_before = bench.simulator.stats()["calls"]
                batch = submit(bench, kind, tasks)
                done, failed = wait_all(batch, 300)
                if failed:
                    raise RuntimeError(f"{failed} {kind} tasks failed in the overhead run")
                calls = bench.simulator.stats()["calls"] - calls_before
                reads = count(bench, "store_reads") - reads_before
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
    kind: str  # the pool: prefork, threads, gevent
    processes: int
    slots: int
    tasks: int
    revocations: int  # revocations that revoked a live token (K)
    steady_redis: float  # Redis commands per call on the same pool before the storm
    logins: int
    rejections: int
    failed: int
    caught: int
    extra_p50: float
    extra_p99: float
    extra_max: float
    seconds: float
    store_reads: int  # the provider's (waiting and rejected tasks'), not the refresher's
    token_processes: int  # processes holding a token cache of their own
    redis_commands: int  # every client's, from the batch's first publish to its last end
    statements: int  # database statements and pings during the storm, all tasks
    gateway_redis: dict[str, int]  # the gateway's own client's commands, by kind (counters)
    profile: StormProfile
    extra: list[float]  # per caught task, seconds
    others_cpu: float  # the share of the machine's CPU others used meanwhile
    variant: str = ""  # what differs from the model as configured by default, if anything
    round: int = 1

    @property
    def model(self) -> str:
        return self.strategy + (f" ({self.variant})" if self.variant else "")

    @property
    def slots_per_process(self) -> int:
        return 1 if self.kind == "prefork" else self.slots

    @property
    def reads_per_process_state(self) -> float:
        """Token-store reads per process per state of the token row (none yet, then each
        login's generation): the goal is at most one."""
        return self.store_reads / (self.token_processes * (self.logins + 1))


def revoke_live_token(bench: Bench, timeout: float = 5.0) -> bool:
    """Revoke a live token: right after a revocation there may be none until the refresh
    lands, and revoking nothing would not count as a revocation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bench.simulator.revoke() > 0:
            return True
        time.sleep(0.002)
    return False


@dataclass(frozen=True)
class Variant:
    """A storm run otherwise than by default: to see what a missed goal would take."""

    name: str
    token_worker: bool = False  # the refresh task's queue consumed by a worker of its own
    env: dict[str, str] = field(default_factory=dict)  # the workers' settings, by variable


def wait_finished(bench: Bench, tasks: int, timeout: float) -> None:
    """Until the workers say ``tasks`` calls ended: watching costs Redis no counted command."""
    deadline = time.monotonic() + timeout
    while count(bench, "finished") < tasks:
        if time.monotonic() > deadline:
            raise TimeoutError("the storm did not finish in time")
        time.sleep(0.005)


def steady_redis(bench: Bench, tasks: int, finished: int) -> float:
    """Redis commands per call on this pool with a live token: what a call costs anyway
    (Celery's polling and bookkeeping differ by pool kind), over as many calls as the storm
    sends and with the same wait at the end. ``finished``: calls ended so far."""
    before = redis_commands(bench)
    submit(bench, "paynet.call", tasks)
    wait_finished(bench, finished + tasks, 60)
    time.sleep(1.0)  # the last results and acknowledgements land, as after the storm
    return (redis_commands(bench) - before) / tasks


def _counters(bench: Bench) -> dict[str, int]:
    names = ["statements", "pings", "finished", *(f"redis:{kind}" for kind in KINDS)]
    return {name: count(bench, name) for name in names}


def _decoded(bench: Bench, key: str) -> dict[str, str]:
    found: dict[bytes, bytes] = bench.redis.hgetall(key)  # type: ignore[assignment]
    return {k.decode(): v.decode() for k, v in found.items()}


def storm(
    bench: Bench,
    strategy: str,
    processes: int,
    slots: int,
    tasks: int,
    revocations: int,
    kind: str = "prefork",
    variant: Variant | None = None,
    round_: int = 1,
) -> StormRow:
    """A warm-up batch logs in (the first of the K + 1 logins) and brings the token to most
    processes; then ``tasks`` calls, and ``revocations`` revocations as they run.
    ``variant``: settings of the workers' own, or a worker of its own for the refresh task."""
    bench.reset()
    variant = variant or Variant("")
    env = {**variant.env, "BENCH_STRATEGY": strategy}
    with ExitStack() as stack:
        if variant.token_worker:
            stack.enter_context(bench.pool(1, 1, "prefork", TOKEN_QUEUE, **env))
        queues = f"{CALL_QUEUE},{WAIT_QUEUE}" if variant.token_worker else None
        stack.enter_context(bench.pool(processes, slots, kind, queues, **env))
        bench.simulator.configure(invalidate_on_login=True)
        warm = 2 * processes * slots
        _done, failed = wait_all(submit(bench, "paynet.call", warm), 120)
        if failed:
            raise RuntimeError(f"{failed} warm-up tasks of a {strategy} storm failed")
        wait_finished(bench, warm, 10)
        time.sleep(0.5)  # the warm-up's last acknowledgements land before anything is counted
        steady = steady_redis(bench, tasks, warm)
        bench.redis.delete(EVENTS, CAUGHT)  # the warm-up's first login is not the storm's
        before, calls_before = _counters(bench), bench.simulator.stats()["calls"]
        commands_before = redis_commands(bench)
        started = time.monotonic()
        others = OthersCpu(bench.own_processes()).start()
        batch = submit(bench, "paynet.call", tasks)
        effective = 0
        for n in range(1, revocations + 1):
            threshold = calls_before + tasks * n // (revocations + 1)
            while bench.simulator.stats()["calls"] < threshold:
                time.sleep(0.002)
            effective += revoke_live_token(bench)
        wait_finished(bench, warm + 2 * tasks, 300)
        seconds = time.monotonic() - started
        others.stop()
        time.sleep(1.0)  # the last results and acknowledgements land, as in measure_cost
        commands = redis_commands(bench) - commands_before
        after = _counters(bench)
        done, failed = wait_all(batch, 60)
    stats = bench.simulator.stats()
    caught = {
        task_id: (float(at), int(generation))
        for task_id, value in _decoded(bench, CAUGHT).items()
        for at, generation in [value.split(",")]
    }
    ends = {
        result.id: finished
        for result, finished in zip(batch.results, done, strict=True)
        if result.id in caught
    }
    extra = [ends[task_id] - caught[task_id][0] for task_id in ends]
    p50, p99, worst = percentile(extra, 0.5), percentile(extra, 0.99), max(extra, default=nan)
    token_processes = processes * slots if kind == "prefork" else processes
    delta = {name: after[name] - before[name] for name in after}
    return StormRow(
        strategy, kind, processes, slots, tasks, effective, steady,
        stats["logins_attempted"], stats["rejections"], failed, len(extra),
        p50, p99, worst, seconds,
        count(bench, "waiting_reads"), token_processes, commands,
        delta["statements"] + delta["pings"],
        {kind_: delta[f"redis:{kind_}"] for kind_ in KINDS},
        profile(_decoded(bench, EVENTS), caught, ends), extra, others.share,
        variant.name, round_,
    )  # fmt: skip


# Pools of every storm: (kind, processes, slots per process). The latency goal names these;
# the others are reported.
GOAL_POOLS = [("prefork", 1, 8), ("prefork", 2, 8), ("gevent", 1, 100)]
STORM_POOLS = [
    ("prefork", 1, 8),
    ("prefork", 2, 8),
    ("prefork", 4, 16),
    ("gevent", 1, 100),
    ("threads", 1, 32),
]


def storms(
    bench: Bench,
    pools: list[tuple[str, int, int]],
    tasks: int,
    revocations: int,
    models: tuple[str, ...],
    rounds: int = 2,
    baselines: tuple[str, ...] = (),
    variants: tuple[tuple[Variant, tuple[str, int, int]], ...] = (),
) -> list[StormRow]:
    """Each model on each pool, all in the same run: on the goal's pools in ``rounds`` rounds,
    the order of the models reversed every other round (A B, B A), on the others once; the
    single-flight model in each of ``variants`` on its pool; then the baselines on the prefork
    pools, once."""
    rows: list[StormRow] = []
    for kind, processes, slots in pools:
        for n in range(1, (rounds if (kind, processes, slots) in GOAL_POOLS else 1) + 1):
            order = models if n % 2 else tuple(reversed(models))
            rows += [
                storm(bench, model, processes, slots, tasks, revocations, kind, round_=n)
                for model in order
            ]
    seen: dict[tuple[str, tuple[str, int, int]], int] = {}
    for variant, pool in variants:  # a variant listed twice on a pool runs two rounds
        n = seen[variant.name, pool] = seen.get((variant.name, pool), 0) + 1
        kind, processes, slots = pool
        rows.append(
            storm(bench, "single_flight", processes, slots, tasks, revocations, kind, variant, n)
        )
    rows += [
        storm(bench, baseline, processes, slots, tasks, revocations, kind)
        for baseline in baselines
        for kind, processes, slots in pools
        if kind == "prefork"
    ]
    return rows


@dataclass(frozen=True)
class CostRow:
    what: str
    tasks: int
    redis_per_task: float
    statements_per_task: float  # statements the gateway sent, pings included
    pings_per_task: float


def measure_cost(bench: Bench, what: str, task: str, keyed: bool, tasks: int) -> CostRow:
    """Redis commands (every client: producer, broker, backend, gateway) and database
    statements per task, over one batch; completion is watched at the simulator, not in
    Redis, so that watching costs Redis nothing."""
    calls_before = bench.simulator.stats()["calls"]
    commands_before = redis_commands(bench)
    statements_before, pings_before = count(bench, "statements"), count(bench, "pings")
    batch = submit(bench, task, tasks, keyed=keyed)
    while bench.simulator.stats()["calls"] < calls_before + tasks:
        time.sleep(0.01)
    time.sleep(1.0)  # the last results and acknowledgements land
    commands = redis_commands(bench) - commands_before
    statements = count(bench, "statements") - statements_before
    pings = count(bench, "pings") - pings_before
    _done, failed = wait_all(batch, 120)
    if failed:
        raise RuntimeError(f"{failed} {what} tasks failed in the cost run")
    return CostRow(what, tasks, commands / tasks, (statements + pings) / tasks, pings / tasks)


def costs(bench: Bench, tasks: int) -> list[CostRow]:
    """What one task costs the shared Redis and PostgreSQL in the steady state (1 x 8)."""
    bench.reset()
    with bench.pool(1, 8, BENCH_FIXED_TOKEN=bench.fixed_token()):
        wait_all(submit(bench, "bench.bare_call", 100), 120)
        warm_up(bench)
        wait_all(submit(bench, "paynet.call", 40, keyed=True), 120)  # the ledger's connections
        return [
            measure_cost(bench, "bare task (Celery's own)", "bench.bare_call", False, tasks),
            measure_cost(bench, "unkeyed call", "paynet.call", False, tasks),
            measure_cost(bench, "keyed payment", "paynet.call", True, tasks),
        ]


@dataclass(frozen=True)
class ProfileRow:
    kind: str
    processes: int
    slots: int
    task: str
    timing: Timing


PROFILE_POOLS = [("prefork", 1, 8), ("threads", 1, 32), ("gevent", 1, 100), ("gevent", 1, 200)]


def latency_profile(
    bench: Bench, latency: float, seconds_of_work: float, quick: bool = False
) -> list[ProfileRow]:
    """Throughput at a realistic Paynet latency, by pool kind, gateway next to the bare task."""
    rows: list[ProfileRow] = []
    bench.call_latency = latency
    try:
        for kind, processes, slots in PROFILE_POOLS[:3] if quick else PROFILE_POOLS:
            bench.reset()
            # Enough tasks to keep every slot busy for ``seconds_of_work`` at the ideal rate.
            tasks = max(200, int(processes * slots / latency * seconds_of_work))
            with bench.pool(processes, slots, kind, BENCH_FIXED_TOKEN=bench.fixed_token()):
                wait_all(submit(bench, "bench.bare_call", slots * processes), 120)
                wait_all(submit(bench, "paynet.call", slots * processes), 120)
                for task in ("bench.bare_call", "paynet.call"):
                    batch = submit(bench, task, tasks)
                    done, failed = wait_all(batch, 600)
                    if failed:
                        raise RuntimeError(f"{failed} {task} tasks failed on {kind}")
                    rows.append(
                        ProfileRow(kind, processes, slots, task, summarize(batch.sent, done))
                    )
    finally:
        bench.call_latency = CALL_LATENCY
    return rows


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
