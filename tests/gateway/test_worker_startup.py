"""A worker refuses to start, with a one-line reason, when it could not work correctly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.workers import REPO_ROOT


def start_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool", "solo"]
    return subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_broken_configuration_stops_the_worker_naming_the_key(
    gateway_env: dict[str, str], tmp_path: Path
) -> None:
    config = (REPO_ROOT / "config.yaml").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(config.replace("max_refresh_cycles: 3", "max_refresh_cycles: many"))
    done = start_worker({**gateway_env, "PAYNET_CONFIG": str(broken)})
    assert done.returncode != 0
    assert "token.max_refresh_cycles" in done.stderr
    assert gateway_env["PAYNET_PASSWORD"] not in done.stderr + done.stdout


def test_a_missing_password_stops_the_worker_naming_the_variable(
    gateway_env: dict[str, str],
) -> None:
    env = {k: v for k, v in gateway_env.items() if k != "PAYNET_PASSWORD"}
    done = start_worker(env)
    assert done.returncode != 0
    assert "PAYNET_PASSWORD" in done.stderr


def test_a_schema_behind_the_code_stops_the_worker(
    gateway_env: dict[str, str], tmp_path: Path
) -> None:
    done = start_worker({**gateway_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    assert done.returncode != 0
    assert "paynet-gateway db upgrade" in done.stderr
