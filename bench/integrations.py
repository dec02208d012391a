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
from collections.abc import Callable
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


def run(bench: Bench, workers: WorkerPool, sims: dict[str, BearerSimulator]) -> list[Row]:
    producer = bench.producer

    def paynet(i: int) -> Any:
        kwargs = {"method": "echo", "params": {"i": i}}
        return producer.send_task("paynet.call", kwargs=kwargs, queue="paynet")

    def bearer(name: str) -> Callable[[int], Any]:
        def send(i: int) -> Any:
            kwargs = {"integration": name, "path": "/api/orders", "query": {"i": i}}
            return producer.send_task("integration.call", kwargs=kwargs, queue=name)

        return send

    calls = {"paynet": paynet, "acquiring": bearer("acquiring"), "multicard": bearer("multicard")}
    for send in calls.values():  # every token in place, every process warm
        finish(submit(bench, 32, send))
    rows = []
    baseline, failed = finish(submit(bench, CALM, calls["multicard"]))
    rows.append(Row("multicard alone (no storm anywhere)", baseline, 0, 0, failed))
    for provider in ("paynet", "acquiring"):
        before = _counts(provider, bench.simulator, sims)
        timings, failed, calm_timings = [], 0, []
        for _ in range(REVOCATIONS):
            _revoke(provider, bench.simulator, sims)
            storm = submit(bench, STORM, calls[provider])
            calm = submit(bench, CALM, calls["multicard"]) if provider == "acquiring" else None
            timing, lost = finish(storm)
            timings.append(timing)
            failed += lost
            if calm is not None:
                calm_timing, lost = finish(calm)
                calm_timings.append(calm_timing)
                failed += lost
        after = _counts(provider, bench.simulator, sims)
        rows.append(Row(f"{provider} storm ({STORM} calls)", _worst(timings),
                        after[0] - before[0], after[1] - before[1], failed))  # fmt: skip
        if calm_timings:
            rows.append(Row("multicard during the acquiring storm", _worst(calm_timings),
                            sims["multicard"].stats()["logins"] - 1,
                            sims["multicard"].stats()["rejections"], 0))  # fmt: skip
    return rows


def _revoke(provider: str, paynet: Simulator, sims: dict[str, BearerSimulator]) -> None:
    if provider == "paynet":
        paynet.revoke()
    else:
        sims[provider].revoke()


def _counts(provider: str, paynet: Simulator, sims: dict[str, BearerSimulator]) -> tuple[int, int]:
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
            log_dir = Path(tmp) / "workers"
            log_dir.mkdir()
            workers = WorkerPool(env, log_dir, 2, 8, "prefork")
            try:
                workers.wait_ready()
                rows = run(bench, workers, sims)
            finally:
                workers.stop()
        finally:
            for sim in sims.values():
                sim.stop()
    text = (
        f"# Storms on Paynet and on a bearer integration\n\n"
        f"`make bench-integrations` on a machine of {os.cpu_count()} cores, embedded Redis and "
        f"PostgreSQL; 2 worker processes x 8 slots (prefork), "
        f"{REVOCATIONS} revocations per provider, the round with the highest p99 shown. "
        f"Latency is from the producer's send to the result, a call 5 ms and a login 50 ms at "
        f"every provider.\n\n{table(rows)}\n"
    )
    OUTPUT.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
