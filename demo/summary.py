"""What the demo saw, the checks it makes of it, and the table it prints: no I/O here."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

WAIT_LINE = re.compile(r"token wait ended: .*?waited=(\d+(?:\.\d+)?)s")


@dataclass(frozen=True)
class Observed:
    """Counted by the producer, the simulator and the workers' logs and metrics."""

    payments: int
    succeeded: int
    failures: Counter[str]  # error class name: how many
    planned_revocations: int
    revocations: int
    logins: int
    rejections: int
    executions: Mapping[str, int]  # the simulator's count per payment id
    payment_ids: frozenset[str]
    seconds: float
    waits: tuple[float, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool


def token_waits(log_lines: Iterable[str]) -> tuple[float, ...]:
    """How long each task that waited for a token waited, from the workers' log lines."""
    return tuple(float(m.group(1)) for line in log_lines if (m := WAIT_LINE.search(line)))


def checks(seen: Observed) -> list[Check]:
    once = all(seen.executions.get(pid) == 1 for pid in seen.payment_ids)
    return [
        Check("every payment succeeded", seen.succeeded == seen.payments and seen.failed == 0),
        Check(
            f"the token was revoked {seen.planned_revocations} times mid-run",
            seen.revocations == seen.planned_revocations,
        ),
        Check("logins made = revocations + 1", seen.logins == seen.revocations + 1),
        Check("every payment executed exactly once at Paynet", once),
        *_metric_checks(seen),
    ]


def _metric_checks(seen: Observed) -> list[Check]:
    if not seen.metrics:
        return []
    agree = (
        seen.metrics.get("logins_succeeded") == seen.logins
        and seen.metrics.get("rejections") == seen.rejections
    )
    return [Check("the workers' metrics count the simulator's logins and rejections", agree)]


def _row(label: str, value: str, verdict: bool | None = None) -> str:
    mark = "" if verdict is None else ("ok" if verdict else "WRONG")
    return f"  {label:<30} {value:<40} {mark}".rstrip()


def table(seen: Observed) -> str:
    ok = {check.what: check.ok for check in checks(seen)}
    failures = ", ".join(f"{name} x{count}" for name, count in seen.failures.most_common())
    longest = f"{max(seen.waits):.2f} s ({len(seen.waits)} tasks waited)" if seen.waits else "-"
    rate = seen.payments / seen.seconds if seen.seconds > 0 else 0.0
    rows = [
        _row(
            "payments succeeded",
            f"{seen.succeeded} of {seen.payments}",
            ok["every payment succeeded"],
        ),
        _row("payments failed", f"{seen.failed}{': ' + failures if failures else ''}"),
        _row(
            "token revocations",
            f"{seen.revocations} (planned {seen.planned_revocations})",
            ok[f"the token was revoked {seen.planned_revocations} times mid-run"],
        ),
        _row(
            "logins made",
            f"{seen.logins} (= {seen.revocations} revocations + 1)"
            if ok["logins made = revocations + 1"]
            else f"{seen.logins} (expected {seen.revocations + 1})",
            ok["logins made = revocations + 1"],
        ),
        _row("rejections seen (-9999)", str(seen.rejections)),
        _row("longest wait for a token", longest),
        _row("throughput", f"{rate:.0f} payments/s ({seen.seconds:.1f} s)"),
        _row(
            "executed at Paynet",
            f"{sum(seen.executions.get(pid, 0) for pid in seen.payment_ids)} times",
            ok["every payment executed exactly once at Paynet"],
        ),
    ]
    if seen.metrics:
        rows.extend(_metrics_rows(seen.metrics, ok))
    return "\n".join(rows)


def _metrics_rows(metrics: Mapping[str, float], ok: Mapping[str, bool]) -> list[str]:
    enqueued = int(metrics.get("refresh_enqueued", 0))
    deduplicated = int(metrics.get("refresh_deduplicated", 0))
    logins, rejections = int(metrics.get("logins_succeeded", 0)), int(metrics.get("rejections", 0))
    return [
        _row("refresh requests", f"{enqueued} enqueued, {deduplicated} deduplicated"),
        _row(
            "workers' metrics",
            f"{logins} logins, {rejections} rejections",
            ok["the workers' metrics count the simulator's logins and rejections"],
        ),
    ]


def passed(seen: Observed) -> bool:
    return all(check.ok for check in checks(seen))
