"""The probe's verdict on a worker's files (pure), and the files as the probe reads them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.probes import files
from worker.probes.verdict import Beat, Kind, judge

NOW = 1_000_000.0
ALIVE = Beat(pid=42, written_at=NOW - 5, pid_alive=True)


@pytest.mark.parametrize(
    ("kind", "heartbeat", "ready", "ok", "reason"),
    [
        ("live", ALIVE, None, True, "alive: process 42, heartbeat 5 s ago"),
        ("ready", ALIVE, ALIVE, True, "ready: process 42 consuming"),
        ("live", None, None, False, "no heartbeat file"),
        ("live", Beat(42, NOW - 5, pid_alive=False), None, False, "process 42 is gone"),
        ("live", Beat(42, NOW - 61, pid_alive=True), None, False, "last heartbeat 61 s ago"),
        ("ready", ALIVE, None, False, "not consuming"),
        ("ready", Beat(42, NOW - 61, True), ALIVE, False, "the worker is stuck"),
        # A ready file left by an earlier process of the same directory.
        ("ready", ALIVE, Beat(7, NOW - 5, True), False, "not consuming"),
    ],
)
def test_a_worker_is_alive_while_it_beats_and_ready_while_it_also_consumes(
    kind: Kind, heartbeat: Beat | None, ready: Beat | None, ok: bool, reason: str
) -> None:
    verdict = judge(kind, heartbeat, ready, NOW, max_age=60)
    assert verdict.ok is ok
    assert reason in verdict.reason


def test_files_left_by_a_killed_worker_fail_both_probes(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    for name in (files.HEARTBEAT, files.READY):
        (tmp_path / name).write_text(gone.stdout)
    assert "is gone" in files.check("live", tmp_path).reason
    assert not files.check("ready", tmp_path).ok


def test_this_process_written_as_a_worker_is_alive_and_ready(tmp_path: Path) -> None:
    files.write(tmp_path / "probe", files.HEARTBEAT)
    files.write(tmp_path / "probe", files.READY)
    assert files.check("ready", tmp_path / "probe").ok
    assert sorted(os.listdir(tmp_path / "probe")) == [files.HEARTBEAT, files.READY]
    files.remove(tmp_path / "probe", files.READY)
    assert not files.check("ready", tmp_path / "probe").ok
    assert files.check("live", tmp_path / "probe").ok
