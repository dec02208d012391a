"""``make bench-integrations``: storms on Paynet and on a bearer integration, side by side, and
what one integration's storm does to another's calls.

One pool of real workers (2 processes x 8, prefork) consumes Paynet's queues and two bearer
integrations' (``acquiring``: OAuth2, ``multicard``: a Multicard-style ``/auth``), each provider
a simulator with the same latencies (a call 5 ms, a login 50 ms). A storm: the provider revokes
every token, then ``STORM`` calls arrive at once; repeated ``REVOCATIONS`` times. Printed as a
Markdown table, and written to bench/INTEGRATIONS.md.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.harness import Batch, Bench, account, batch_of, setup, wait_all
from bench.stats import Timing, summarize
from devservices.stack import services
from devservices.workers import WorkerPool
from simulator import Simulator
from simulator.bearer import BearerConfig, BearerSimulator
from worker.queues import CALL_QUEUE, TOKEN_QUEUE, WAIT_QUEUE, integration_queues

OUTPUT = Path(__file__).resolve().parent / "INTEGRATIONS.md"
STORM = 400
CALM = 100
REVOCATIONS = 3
CALL_LATENCY = 0.005
LOGIN_LATENCY = 0.05
CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"


@dataclass(frozen=True)
class Row:
    what: str
    timing: Timing
    logins: int
    rejections: int
    failed: int


def bearer_config(acquiring: BearerSimulator, multicard: BearerSimulator) -> dict[str, Any]:
    def block(sim: BearerSimulator, path: str, fields: dict[str, str], secret: str) -> Any:
        token: dict[str, Any] = {
            "path": path,
            "format": "form" if path == "/oauth/token" else "json",
            "fields": fields,
            "secret_fields": secret,
        }
        if path == "/auth":
            token |= {"token_field": "token", "expiry": {"at_field": "expiry",
                                                         "at_utc_offset": "+05:00"}}  # fmt: skip
        return {
            "base_url": sim.url,
            "token": token,
            "policy": {"login_budget": {"max_logins": 1000}},
        }

    return {
        "acquiring": block(
            acquiring,
            "/oauth/token",
            {"grant_type": "client_credentials", "client_id": "gateway-client"},
            {"client_secret": "${ACQUIRING_CLIENT_SECRET}"},  # type: ignore[arg-type]
        ),
        "multicard": block(
            multicard,
            "/auth",
            {"application_id": "gateway-client"},
            {"secret": "${MULTICARD_SECRET}"},  # type: ignore[arg-type]
        ),
    }


def submit(bench: Bench, count: int, send: Callable[[int], Any]) -> Batch:
    sent, results = [], []
    for i in range(count):
        sent.append(time.time())
        results.append(send(i))
    return batch_of(sent, results)


def finish(batch: Batch) -> tuple[Timing, int]:
    done, failed = wait_all(batch, timeout=300)
    return summarize(batch.sent, done), failed


def senders(bench: Bench) -> dict[str, Callable[[int], Any]]:
    producer = bench.producer

    def paynet(i: int) -> Any:
        kwargs = {"method": "echo", "params": {"i": i}}
        return producer.send_task("paynet.call", kwargs=kwargs, queue="paynet")

    def bearer(name: str) -> Callable[[int], Any]:
        def send(i: int) -> Any:
            kwargs = {"integration": name, "path": "/api/orders", "query": {"i": i}}
            return producer.send_task("integration.call", kwargs=kwargs, queue=name)

        return send

    return {"paynet": paynet, "acquiring": bearer("acquiring"), "multicard": bearer("multicard")}


def storms(
    bench: Bench, sims: dict[str, BearerSimulator], provider: str, beside: str | None, label: str
) -> list[Row]:
    """``REVOCATIONS`` storms on ``provider``; ``beside``: another integration's ``CALM`` calls
    sent at the same moment, whose figures get a row of their own."""
    calls = senders(bench)
    before = _counts(provider, bench.simulator, sims)
    calm_before = _counts(beside, bench.simulator, sims) if beside else (0, 0)
    timings, calm_timings, failed = [], [], 0
    for _ in range(REVOCATIONS):
        _revoke(provider, bench.simulator, sims)
        storm = submit(bench, STORM, calls[provider])
        calm = submit(bench, CALM, calls[beside]) if beside else None
        timing, lost = finish(storm)
        timings.append(timing)
        failed += lost
        if calm is not None:
            calm_timing, lost = finish(calm)
            calm_timings.append(calm_timing)
            failed += lost
    after = _counts(provider, bench.simulator, sims)
    company = f", {beside}'s calls beside it" if beside else ""
    rows = [Row(f"{provider} storm ({STORM} calls){company}{label}", _worst(timings),
                after[0] - before[0], after[1] - before[1], failed)]  # fmt: skip
    if beside:
        calm_after = _counts(beside, bench.simulator, sims)
        logins, rejections = (calm_after[0] - calm_before[0], calm_after[1] - calm_before[1])
        what = f"{beside} during it ({CALM} calls){label}"
        rows.append(Row(what, _worst(calm_timings), logins, rejections, 0))
    return rows


def alone(bench: Bench, name: str, label: str) -> Row:
    timings, failed = [], 0
    for _ in range(REVOCATIONS):
        timing, lost = finish(submit(bench, CALM, senders(bench)[name]))
        timings.append(timing)
        failed += lost
    return Row(f"{name} alone ({CALM} calls, no storm){label}", _worst(timings), 0, 0, failed)


def warm(bench: Bench) -> None:
    for send in senders(bench).values():  # every token in place, every process warm
        finish(submit(bench, 32, send))


OTHERS = ",".join((CALL_QUEUE, WAIT_QUEUE, TOKEN_QUEUE, *integration_queues("acquiring")))


@contextmanager
def pools(
    log_dir: Path, env: dict[str, str], shapes: Sequence[tuple[int, int, str | None]]
) -> Iterator[list[WorkerPool]]:
    """Worker pools of ``(processes, slots, queues)`` (None: every queue), stopped after."""
    started: list[WorkerPool] = []
    try:
        for n, (processes, slots, queues) in enumerate(shapes):
            directory = log_dir / str(n)
            directory.mkdir(parents=True)
            workers = WorkerPool(env, directory, processes, slots, "prefork", queues)
            started.append(workers)
            workers.wait_ready()
        yield started
    finally:
        for workers in started:
            workers.stop()


def _revoke(provider: str, paynet: Simulator, sims: dict[str, BearerSimulator]) -> None:
    if provider == "paynet":
        paynet.revoke()
    else:
        sims[provider].revoke()


def _counts(
    provider: str | None, paynet: Simulator, sims: dict[str, BearerSimulator]
) -> tuple[int, int]:
    if provider is None:
        return 0, 0
    if provider == "paynet":
        stats = paynet.stats()
        return stats["logins_succeeded"], stats["rejections"]
    stats = sims[provider].stats()
    return stats["logins"], stats["rejections"]


def _worst(timings: list[Timing]) -> Timing:
    """The round with the highest p99, as the storm section of bench/RESULTS.md reports."""
    return max(timings, key=lambda timing: timing.p99)


def table(rows: list[Row]) -> str:
    lines = [
        "| round | calls | p50 ms | p99 ms | max ms | logins | rejections | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        t = row.timing
        lines.append(
            f"| {row.what} | {t.count} | {t.p50 * 1000:.0f} | {t.p99 * 1000:.0f} "
            f"| {t.maximum * 1000:.0f} | {row.logins} | {row.rejections} | {row.failed} |"
        )
    return "\n".join(lines)


def main() -> int:
    password = "pw-" + secrets.token_urlsafe(18)
    secret = {
        "acquiring": "cs-" + secrets.token_urlsafe(18),
        "multicard": "cs-" + secrets.token_urlsafe(18),
    }
    with (
        tempfile.TemporaryDirectory(prefix="bench-integrations-") as tmp,
        services(Path(tmp) / "services", want_postgres=True) as found,
        Simulator(accounts=[account(password)]) as paynet,
    ):
        sims = {
            name: BearerSimulator(BearerConfig(client_secret=secret[name],
                                               expiry_form="expires_in" if name == "acquiring"
                                               else "local_time",
                                               call_latency=CALL_LATENCY,
                                               login_latency=LOGIN_LATENCY)).start()
            for name in secret
        }  # fmt: skip
        try:
            bench = setup(found, paynet, password, Path(tmp))
            bench.reset()
            config = yaml.safe_load(CONFIG.read_text())
            config["integrations"] = bearer_config(sims["acquiring"], sims["multicard"])
            path = Path(tmp) / "config.yaml"
            path.write_text(yaml.safe_dump(config))
            env = bench.env(
                PAYNET_CONFIG=str(path),
                ACQUIRING_CLIENT_SECRET=secret["acquiring"],
                MULTICARD_SECRET=secret["multicard"],
            )
            rows: list[Row] = []
            one = ""
            with pools(Path(tmp) / "shared", env, [(2, 8, None)]):
                warm(bench)
                rows.append(alone(bench, "multicard", one))
                rows += storms(bench, sims, "paynet", None, one)
                rows += storms(bench, sims, "acquiring", None, one)
                rows += storms(bench, sims, "acquiring", "multicard", one)
            own = ", multicard on a pool of its own"
            apart = [(2, 8, OTHERS), (1, 4, ",".join(integration_queues("multicard")))]
            with pools(Path(tmp) / "apart", env, apart):
                warm(bench)
                rows.append(alone(bench, "multicard", own))
                rows += storms(bench, sims, "acquiring", "multicard", own)
        finally:
            for sim in sims.values():
                sim.stop()
    text = (
        f"# Storms on Paynet and on a bearer integration\n\n"
        f"`make bench-integrations` on a machine of {os.cpu_count()} cores, embedded Redis and "
        f"PostgreSQL; one pool of 2 worker processes x 8 slots (prefork) for every queue, then "
        f"the same pool without multicard's queues and multicard on a pool of 1 x 4; "
        f"{REVOCATIONS} revocations per provider, the round with the highest p99 shown. "
        f"Latency is from the producer's send to the result, a call 5 ms and a login 50 ms at "
        f"every provider.\n\n{table(rows)}\n"
    )
    OUTPUT.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
