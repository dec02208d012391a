"""``make demo`` in its short mode, as a newcomer runs it, and what it must never leave behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from demo.run import revoke_now
from demo.summary import Observed, checks, passed, table, token_waits
from tests.support.workers import REPO_ROOT

MARKER = "PAYNET_DEMO_TEST_MARKER"


def demo_env(marker: str) -> dict[str, str]:
    """A newcomer's shell: no service variables; the marker is inherited by every child."""
    service = ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    env = {k: v for k, v in os.environ.items() if k not in service and k != "PAYNET_CONFIG"}
    return {**env, MARKER: marker, "PYTHONUNBUFFERED": "1"}


def processes_carrying(marker: str) -> list[str]:
    """Command lines of every live process whose environment holds the marker."""
    found = []
    needle = f"{MARKER}={marker}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def demo(tmp_path: Path, marker: str, short: bool = True) -> subprocess.Popen[str]:
    mode = ["--short"] if short else []
    return subprocess.Popen(
        [sys.executable, "-m", "demo", *mode, "--workdir", str(tmp_path / "demo")],
        cwd=REPO_ROOT,
        env=demo_env(marker),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_short_demo_pays_everything_with_one_login_per_revocation_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    marker = uuid.uuid4().hex
    run = demo(tmp_path, marker)
    out, err = run.communicate(timeout=240)
    assert run.returncode == 0, out + err
    assert re.search(r"payments succeeded +90 of 90 +ok", out), out
    assert re.search(r"payments failed +0\n", out), out
    assert re.search(r"logins made +3 \(= 2 revocations \+ 1\) +ok", out), out
    assert re.search(r"workers' metrics +3 logins, \d+ rejections +ok", out), out
    assert "WRONG" not in out
    assert "90/90 payments" in err
    assert processes_carrying(marker) == []


# The rows of the summary whose figures are the same in every run (the rest are timings).
STEADY_ROWS = (
    "payments succeeded",
    "payments failed",
    "token revocations",
    "logins made",
    "executed at Paynet",
)


def steady_figures(text: str) -> dict[str, str]:
    """Those rows, and the number of refresh requests enqueued, as the summary prints them."""
    rows = {}
    for line in text.splitlines():
        for name in STEADY_ROWS:
            if line.strip().startswith(name):
                rows[name] = " ".join(line.split()[len(name.split()) :])
        found = re.search(r"refresh requests +(\d+) enqueued", line)
        if found:
            rows["refresh requests enqueued"] = found.group(1)
    return rows


@pytest.mark.slow
def test_the_readme_shows_the_figures_make_demo_prints(tmp_path: Path) -> None:
    run = demo(tmp_path, uuid.uuid4().hex, short=False)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, out + err
    readme = (REPO_ROOT / "README.md").read_text()
    sample = readme.split("### What `make demo` shows", 1)[1].split("```text", 1)[1]
    sample = sample.split("```", 1)[0]
    printed = steady_figures(out)
    assert len(printed) == len(STEADY_ROWS) + 1, out
    assert steady_figures(sample) == printed  # one refresh request per generation, first included


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_demo_stops_everything_it_started(
    tmp_path: Path, signum: signal.Signals
) -> None:
    marker = uuid.uuid4().hex
    run = demo(tmp_path, marker)
    assert run.stdout is not None
    lines = []
    for line in run.stdout:
        lines.append(line)
        if "sending 90 payments" in line:
            break
    assert processes_carrying(marker), "the demo started nothing"
    run.send_signal(signum)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 128 + signum, "".join(lines) + out + err
    assert f"{signum.name} received; stopping everything it started" in err
    assert processes_carrying(marker) == []


def observed(**changes: object) -> Observed:
    ids = frozenset(f"p{i}" for i in range(10))
    base: dict[str, object] = {
        "payments": 10,
        "succeeded": 10,
        "failures": Counter(),
        "planned_revocations": 2,
        "revocations": 2,
        "logins": 3,
        "rejections": 5,
        "executions": dict.fromkeys(ids, 1),
        "payment_ids": ids,
        "seconds": 2.0,
        "waits": (0.25, 1.5),
        "metrics": {"logins_succeeded": 3, "rejections": 5},
    }
    base.update(changes)
    return Observed(**base)  # type: ignore[arg-type]


def test_the_summary_passes_when_every_check_holds() -> None:
    seen = observed()
    assert passed(seen)
    text = table(seen)
    assert "longest wait for a token       1.50 s (2 tasks waited)" in text
    assert "throughput                     5 payments/s (2.0 s)" in text
    assert "WRONG" not in text


@pytest.mark.parametrize(
    "changes",
    [
        {"logins": 4, "metrics": {"logins_succeeded": 4, "rejections": 5}},
        {"revocations": 1, "logins": 2, "metrics": {"logins_succeeded": 2, "rejections": 5}},
        {"succeeded": 9, "failures": Counter({"TokenUnavailable": 1})},
        {"executions": {**{f"p{i}": 1 for i in range(9)}, "p9": 2}},
        {"metrics": {"logins_succeeded": 2, "rejections": 5}},
    ],
    ids=["extra-login", "missed-revocation", "failed-payment", "paid-twice", "metrics-disagree"],
)
def test_the_summary_fails_when_a_check_does_not_hold(changes: dict[str, object]) -> None:
    seen = observed(**changes)
    assert not passed(seen)
    assert "WRONG" in table(seen)
    assert sum(not check.ok for check in checks(seen)) == 1


def test_token_waits_are_read_from_the_workers_log_lines() -> None:
    lines = [
        "2026-01-01 10:00:00,000 INFO ForkPoolWorker-1 worker.token [task=a key=k]: "
        "token wait ended: profile=default waited=0.412s outcome=token",
        "2026-01-01 10:00:00,000 INFO ForkPoolWorker-1 worker.gateway: token rejected: x",
        '{"message": "token wait ended: profile=default waited=2.000s outcome=gave_up"}',
    ]
    assert token_waits(lines) == (0.412, 2.0)


@pytest.mark.parametrize(
    ("done", "revoked", "logins", "due"),
    [
        (29, 0, 1, False),  # a third of 90 not reached yet
        (30, 0, 1, True),
        (30, 0, 0, False),  # no token yet to revoke
        (60, 1, 1, False),  # the first revocation has not had its login yet
        (60, 1, 2, True),
        (89, 2, 3, False),  # both done
    ],
)
def test_revocations_fall_at_each_third_once_the_previous_one_got_its_login(
    done: int, revoked: int, logins: int, due: bool
) -> None:
    assert revoke_now(done, 90, revoked, 2, logins) is due
