"""Flower as a real subprocess, started as an operator would, until it answers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

from devservices.ports import free_port
from tests.support.workers import REPO_ROOT


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@contextmanager
def running_flower(
    celery_args: Sequence[str], env: Mapping[str, str], log_path: Path
) -> Iterator[str]:
    """``celery <celery_args> flower`` on a free port; its URL once /healthcheck answers."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", *celery_args, "flower",
             f"--port={port}", "--address=127.0.0.1"],
            cwd=REPO_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(url + "/healthcheck"):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "Flower did not answer"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
