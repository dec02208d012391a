"""A worker refuses to start, with a one-line reason, when it could not work correctly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devservices.ports import free_port
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
    broken.write_text(
        config.replace("refresh_liveness: ${PAYNET_REFRESH_LIVENESS:-6}", "refresh_liveness: soon")
    )
    done = start_worker({**gateway_env, "PAYNET_CONFIG": str(broken)})
    assert done.returncode != 0
    assert "token.refresh_liveness" in done.stderr
    assert gateway_env["PAYNET_PASSWORD"] not in done.stderr + done.stdout


def reason(done: subprocess.CompletedProcess[str]) -> str:
    """The worker's one line of why it did not start (it may have printed its banner before)."""
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.startswith("paynet-gateway: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_missing_password_stops_the_worker_naming_the_variable(
    gateway_env: dict[str, str],
) -> None:
    env = {k: v for k, v in gateway_env.items() if k != "PAYNET_PASSWORD"}
    done = start_worker(env)
    assert done.returncode != 0
    assert reason(done) == (
        "paynet-gateway: cannot start: "
        "paynet.profiles.default.password: environment variable PAYNET_PASSWORD is not set"
    )


def test_an_unreachable_database_stops_the_worker_with_the_setting_and_the_drivers_reason(
    gateway_env: dict[str, str],
) -> None:
    url = f"postgresql://paynet:db-secret-pw@127.0.0.1:{free_port()}/paynet"
    done = start_worker({**gateway_env, "DATABASE_URL": url})
    assert done.returncode != 0
    line = reason(done)
    assert line.startswith(
        "paynet-gateway: cannot start: database.url (DATABASE_URL) "
        "postgresql+psycopg2://paynet:***@127.0.0.1:"
    )
    assert "OperationalError: connection to server at" in line
    assert "Connection refused" in line
    assert "db-secret-pw" not in done.stderr + done.stdout


def test_a_malformed_database_url_stops_the_worker_naming_the_setting(
    gateway_env: dict[str, str],
) -> None:
    done = start_worker({**gateway_env, "DATABASE_URL": "postgresql://paynet:pw@host:port/db"})
    assert done.returncode != 0
    assert reason(done) == (
        "paynet-gateway: cannot start: database.url (DATABASE_URL): not a usable URL: "
        "ValueError: invalid literal for int() with base 10: 'port'"
    )


def test_a_schema_behind_the_code_stops_the_worker(
    gateway_env: dict[str, str], tmp_path: Path
) -> None:
    done = start_worker({**gateway_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    assert done.returncode != 0
    assert "paynet-gateway db upgrade" in done.stderr
