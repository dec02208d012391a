"""The demo's steps: start the parts, send the payments, revoke the token twice, report.

Run it with ``make demo`` (or ``python -m demo``; ``--short`` sends fewer payments). Standard
output gets the steps and the summary, standard error the progress bar.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import requests
from celery import Celery
from celery.exceptions import TimeoutError as ResultTimeout
from celery.result import ResultSet
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

from demo import interrupts
from demo.processes import REPO_ROOT, DemoError, WorkerGroup, run_cli
from demo.progress import Progress
from demo.summary import Observed, checks, passed, table, token_waits
from devservices.ports import free_port
from devservices.redis_server import RedisServer
from simulator import Account, Simulator

USERNAME = "username_17627_56530"
TERMINAL_ID = 4027096
MARKER = ".paynet-demo"  # a work directory holding this file may be wiped by the next run
DEFAULT_WORKDIR = REPO_ROOT / "var" / "demo"
# Variables of the caller's shell that would point the demo's workers elsewhere.
FOREIGN_PREFIXES = ("PAYNET_", "CELERY_", "LOG_", "METRICS_", "PROMETHEUS_")
FOREIGN = frozenset({"REDIS_URL", "DATABASE_URL"})


@dataclass(frozen=True)
class Plan:
    payments: int
    revocations: int = 2
    processes: int = 2
    concurrency: int = 4
    call_latency: float = 0.02
    timeout: float = 120.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="Payments through the gateway, with the token revoked twice mid-run.",
    )
    parser.add_argument("--short", action="store_true", help="fewer payments (for tests)")
    parser.add_argument("--payments", type=int, default=None, help="how many payments")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help="for the database and the logs; wiped at start (default var/demo)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan(payments=args.payments or (90 if args.short else 300))
    out = sys.stdout
    interrupts.install()
    stack = ExitStack()
    seen: Observed | None = None
    code = 1
    try:
        seen = run(plan, args.workdir.resolve(), stack, out)
        code = 0 if passed(seen) else 1
    except (interrupts.Interrupted, RuntimeError) as exc:
        stop = interrupts.interruption(exc)
        if stop is None:
            raise
        print(f"\ndemo: {stop} received; stopping everything it started", file=sys.stderr)
        code = 128 + stop.signum
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
    finally:
        interrupts.ignore()
        with _step(out, "stopping the workers, the simulator and Redis"):
            stack.close()
    if seen is not None:
        report(seen, args.workdir, out)
    return code


def run(plan: Plan, workdir: Path, stack: ExitStack, out: TextIO) -> Observed:
    _fresh(workdir)
    password = secrets.token_urlsafe(18)
    print(
        f"paynet-gateway demo: {plan.payments} payments through {plan.processes} worker "
        f"processes ({plan.concurrency} slots each); the token is revoked "
        f"{plan.revocations} times mid-run\n",
        file=out,
    )
    with _step(out, "Redis, embedded (the broker, result store and refresh lock)"):
        redis = stack.enter_context(RedisServer(workdir / "redis"))
    with _step(out, "Paynet simulator (new logins invalidate older tokens)"):
        simulator = stack.enter_context(
            Simulator(accounts=[Account(USERNAME, password, TERMINAL_ID)])
        )
        simulator.configure(invalidate_on_login=True, call_latency=plan.call_latency)
    env = worker_env(os.environ, redis.url, simulator.url, password, workdir)
    with _step(out, f"paynet-gateway db upgrade (SQLite {_shown(workdir / 'paynet.db')})"):
        run_cli(["db", "upgrade"], env)
    workers = stack.enter_context(WorkerGroup(workdir / "logs"))
    ports = [free_port() for _ in range(plan.processes)]
    with _step(out, f"{plan.processes} workers: celery -A worker worker -c {plan.concurrency}"):
        for port in ports:
            workers.start({**env, "METRICS_PORT": str(port)}, plan.concurrency)
        workers.wait_ready(timeout=60)
    producer = _producer(redis.url)
    stack.callback(producer.close)
    print(f"\n  sending {plan.payments} payments (send_task 'paynet.call')", file=out, flush=True)
    seen = send_payments(producer, simulator, plan)
    metrics = scrape(ports)
    stats = simulator.stats()
    return Observed(
        payments=plan.payments,
        succeeded=seen.succeeded,
        failures=seen.failures,
        planned_revocations=plan.revocations,
        revocations=seen.revocations,
        logins=int(stats["logins_succeeded"]),
        rejections=int(stats["rejections"]),
        executions=dict(stats["executions"]),
        payment_ids=frozenset(seen.ids),
        seconds=seen.seconds,
        waits=token_waits(workers.logs()),
        metrics=metrics,
    )


def report(seen: Observed, workdir: Path, out: TextIO) -> None:
    print(f"\n{table(seen)}\n", file=out)
    wrong = [check.what for check in checks(seen) if not check.ok]
    if wrong:
        print("WRONG: " + "; ".join(wrong), file=out)
    else:
        print(
            "What happened: each revocation made Paynet answer -9999 to the payments in flight.\n"
            "The workers asked for one refresh (the other requests were deduplicated in Redis),\n"
            "one worker logged in under the refresh lock, and every other payment waited with a\n"
            "countdown retry, then ran again with the new token from the database.",
            file=out,
        )
    print(
        f"Worker logs: {_shown(workdir / 'logs')}/. Everything the demo started is stopped.",
        file=out,
    )


def worker_env(
    base: Mapping[str, str], redis_url: str, paynet_url: str, password: str, workdir: Path
) -> dict[str, str]:
    """The environment the shipped config.yaml reads, and nothing of the caller's own set-up."""
    env = {
        key: value
        for key, value in base.items()
        if not key.startswith(FOREIGN_PREFIXES) and key not in FOREIGN
    }
    env.update(
        PAYNET_BASE_URL=paynet_url,
        PAYNET_USERNAME=USERNAME,
        PAYNET_PASSWORD=password,
        PAYNET_TERMINAL_ID=str(TERMINAL_ID),
        PAYNET_TOKEN_KEY=Fernet.generate_key().decode("ascii"),
        DATABASE_URL=f"sqlite:///{workdir / 'paynet.db'}",
        REDIS_URL=redis_url,
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class Sent:
    ids: list[str]
    succeeded: int
    failures: Counter[str]
    revocations: int
    seconds: float


def payment(run_id: str, number: int) -> dict[str, Any]:
    """A payment as payment-service would send it: the agent's own id doubles as the key."""
    agent_id = f"demo-{run_id}-{number:04d}"
    return {
        "method": "performTransaction",
        "params": {
            "id": agent_id,
            "service_id": 101,
            "time": int(time.time() * 1000),
            "fields": {"phone": f"99890{number:07d}"},
            "amount": 1000 + 10 * number,
        },
        "idempotency_key": agent_id,
    }


def revoke_now(done: int, total: int, revoked: int, planned: int, logins: int) -> bool:
    """Revoke at each 1/(planned+1) of the run, once the previous revocation got its login."""
    if revoked >= planned or logins != revoked + 1:
        return False
    return done * (planned + 1) >= total * (revoked + 1)


def send_payments(producer: Celery, simulator: Simulator, plan: Plan) -> Sent:
    run_id = secrets.token_hex(3)
    payments = [payment(run_id, number) for number in range(plan.payments)]
    sent = Sent([kwargs["idempotency_key"] for kwargs in payments], 0, Counter(), 0, 0.0)
    progress = Progress(sys.stderr, plan.payments)
    started = time.monotonic()
    results = ResultSet(
        [
            producer.send_task("paynet.call", kwargs=kwargs, kwargsrepr=_flower_repr(kwargs))
            for kwargs in payments
        ]
    )
    done = 0

    def tick(event: str | None = None) -> None:
        logins = int(simulator.stats()["logins_succeeded"])
        due = revoke_now(done, plan.payments, sent.revocations, plan.revocations, logins)
        if due and simulator.revoke() > 0:
            sent.revocations += 1
            event = f"token revoked at {done} payments"
        progress.update(done, sent.revocations, logins, event)

    try:
        for _task_id, meta in results.iter_native(
            timeout=plan.timeout, interval=0.05, on_interval=tick
        ):
            done += 1
            if meta["status"] == "SUCCESS":
                sent.succeeded += 1
            else:
                sent.failures[type(meta["result"]).__name__] += 1
            tick()
    except ResultTimeout:
        raise DemoError(
            f"payments not done within {plan.timeout:g} s; see the worker logs"
        ) from None
    finally:
        progress.close()
        if done < plan.payments:
            _abandon(producer, results)
    sent.seconds = time.monotonic() - started
    return sent


def _abandon(producer: Celery, results: ResultSet) -> None:
    """Stop listening for results now, while Redis is up, not when the objects are collected."""
    with contextlib.suppress(Exception):
        for result in results.results:
            producer.backend.remove_pending_result(result)


def _flower_repr(kwargs: Mapping[str, Any]) -> str:
    """What Flower shows of the task: never the payment's params."""
    shown = {key: kwargs[key] for key in ("method", "idempotency_key")}
    return repr(shown)


def scrape(ports: list[int]) -> dict[str, float]:
    """The workers' Prometheus metrics, summed over the worker hosts."""
    wanted = {
        "logins_succeeded": ("paynet_logins_total", ("outcome", "succeeded")),
        "rejections": ("paynet_token_rejections_total", None),
        "refresh_enqueued": ("paynet_refresh_requests_total", ("result", "enqueued")),
        "refresh_deduplicated": ("paynet_refresh_requests_total", ("result", "deduplicated")),
    }
    totals = dict.fromkeys(wanted, 0.0)
    for port in ports:
        try:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except requests.RequestException as exc:
            raise DemoError(f"the metrics endpoint on port {port} did not answer: {exc}") from None
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                for key, (name, label) in wanted.items():
                    if sample.name == name and (
                        label is None or sample.labels.get(label[0]) == label[1]
                    ):
                        totals[key] += sample.value
    return totals


def _producer(redis_url: str) -> Celery:
    """payment-service's side: a plain Celery app that knows only the task contract."""
    app = Celery("payment-service", broker=redis_url, backend=redis_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_routes={"paynet.*": {"queue": "paynet"}},
    )
    return app


def _fresh(workdir: Path) -> None:
    if workdir.exists() and any(workdir.iterdir()) and not (workdir / MARKER).exists():
        raise DemoError(
            f"{workdir} is not empty and not a demo directory: choose another --workdir"
        )
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "logs").mkdir(parents=True)
    (workdir / MARKER).touch()


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@contextmanager
def _step(out: TextIO, what: str) -> Iterator[None]:
    print(f"  {what} ...", end="", file=out, flush=True)
    started = time.monotonic()
    try:
        yield
    except BaseException as exc:
        ended = "interrupted" if interrupts.interruption(exc) else "failed"
        print(f" {ended}", file=out, flush=True)
        raise
    print(f" {time.monotonic() - started:.1f} s", file=out, flush=True)
