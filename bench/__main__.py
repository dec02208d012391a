"""``make bench``: run every section against the simulator and write bench/RESULTS.md.

``python -m bench --sections storms`` runs the storms (and the steady-state costs they are
compared with) alone; ``--baselines`` adds the lock_only and naive storms.
"""

from __future__ import annotations

import argparse
import pickle
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text

from bench import sections
from bench.document import Figures, Run, document
from bench.harness import Bench, account, setup
from bench.report import machine
from bench.strategies import BASELINES, MODELS
from devservices.stack import services
from simulator import Simulator
from worker.db.engine import make_engine

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PROFILE_LATENCY = 0.2  # seconds per Paynet call in the latency profile
STORM_TASKS = 400
REVOCATIONS = 3
# The single-flight model run otherwise, once each, to see what its missed goals would take:
# a worker of its own for the refresh task (1 process x 1, the pool consuming the other
# queues), as an operator may run it; waiting tasks looking again every 50 ms at first.
TOKEN_WORKER = sections.Variant("token worker", token_worker=True)
STEP_50 = sections.Variant("wait_step 0.05 s", env={"PAYNET_TOKEN_WAIT_STEP": "0.05"})
VARIANTS = (
    *((TOKEN_WORKER, pool) for pool in sections.GOAL_POOLS),
    (STEP_50, ("prefork", 1, 8)),
    *((TOKEN_WORKER, pool) for pool in sections.GOAL_POOLS),  # a second round
)

SECTIONS = ("overhead", "storms", "costs", "profile", "memory", "scale")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="comma-separated, of: %(default)s",
    )
    parser.add_argument(
        "--baselines",
        action="store_true",
        help="storms of lock_only and naive too, on the prefork pools (about 4 minutes more)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--keep-figures", type=Path, help="also pickle the run's figures to this file"
    )
    parser.add_argument(
        "--from-figures",
        type=Path,
        help="run nothing: write the results from figures kept by --keep-figures",
    )
    args = parser.parse_args(argv)
    chosen = {name.strip() for name in args.sections.split(",") if name.strip()}
    if chosen - set(SECTIONS):
        parser.error(f"unknown sections: {', '.join(sorted(chosen - set(SECTIONS)))}")
    args.sections = chosen
    return args


def measure(bench: Bench, args: argparse.Namespace) -> Figures:
    quick, chosen = args.quick, args.sections
    tasks = 300 if quick else 1000
    figures = Figures()

    def step(name: str) -> bool:
        if name in chosen:
            print(f"{name} ...", file=sys.stderr, flush=True)
        return name in chosen

    if step("overhead"):
        figures.overhead = sections.overhead(bench, tasks, rounds=2)
    if step("storms"):
        pools = [p for p in sections.STORM_POOLS if p in sections.GOAL_POOLS]
        figures.storms = sections.storms(
            bench,
            pools if quick else sections.STORM_POOLS,
            STORM_TASKS,
            REVOCATIONS,
            MODELS,
            1 if quick else 2,
            BASELINES if args.baselines else (),
            () if quick else VARIANTS,
        )
    if step("costs"):
        figures.costs = sections.costs(bench, 200 if quick else 500)
    if step("profile"):
        figures.profile = sections.latency_profile(
            bench, PROFILE_LATENCY, 4 if quick else 10, quick
        )
    if step("memory"):
        figures.memory = sections.memory(bench, tasks // 2)
    if step("scale"):
        figures.scale = sections.scale(bench, [1, 2, 4], 8, tasks)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.from_figures is not None:
        run, figures = pickle.loads(args.from_figures.read_bytes())  # noqa: S301 - our own file
    else:
        run, figures = measure_all(args)
    if args.keep_figures is not None:
        args.keep_figures.write_bytes(pickle.dumps((run, figures)))
    lines = document(run, figures)
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


def measure_all(args: argparse.Namespace) -> tuple[Run, Figures]:
    password = "bench-" + secrets.token_urlsafe(12)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="paynet-bench-") as workdir,
        services(Path(workdir) / "services", want_postgres=True) as found,
        Simulator(accounts=[account(password)]) as simulator,
    ):
        bench = setup(found, simulator, password, Path(workdir))
        figures = measure(bench, args)
        redis_version = str(bench.redis.info("server")["redis_version"])
        engine = make_engine(found.database_url)
        with engine.connect() as conn:
            database = str(conn.execute(text("select version()")).scalar()).split(" on ")[0]
        engine.dispose()
    run = Run(
        command_of(args),
        time.monotonic() - started,
        machine(redis_version, database),
        STORM_TASKS,
        REVOCATIONS,
        PROFILE_LATENCY,
    )
    return run, figures


def command_of(args: argparse.Namespace) -> str:
    if args.sections == set(SECTIONS) and not args.quick and not args.baselines:
        return "make bench"
    words = ["python -m bench"]
    if args.quick:
        words.append("--quick")
    if args.sections != set(SECTIONS):
        words.append("--sections " + ",".join(s for s in SECTIONS if s in args.sections))
    if args.baselines:
        words.append("--baselines")
    return " ".join(words)


if __name__ == "__main__":
    sys.exit(main())
