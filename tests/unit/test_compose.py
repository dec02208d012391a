"""docker-compose.yml, read without Docker: every command exists here, every variable is read.

No Docker engine runs on the machines that run this suite, so the file is checked against the
project itself: a service's command must be the console script with a subcommand its parser
accepts, or ``celery`` with an app this repository defines and a subcommand Celery has; a
variable a project service sets must be one that config.yaml (or Celery, or Flower) reads.
tests/docker/ runs the file for real where a Docker engine answers.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from typing import Any

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from celery.bin.celery import celery as celery_command
from tornado.options import options as flower_options

from tests.support.workers import REPO_ROOT
from worker.cli import build_parser

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROJECT_SERVICES = sorted(name for name, spec in SERVICES.items() if "build" in spec)
INTERPOLATED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
# Read by worker/config.py itself, not through config.yaml.
READ_BY_THE_LOADER = {"PAYNET_CONFIG"}
# Read by Celery's default app (Flower here runs with no app of ours).
READ_BY_CELERY = {"CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}


def config_variables() -> set[str]:
    return set(INTERPOLATED.findall((REPO_ROOT / "config.yaml").read_text()))


def flower_variables() -> set[str]:
    import flower.options  # noqa: F401  (defines Flower's options)

    return {"FLOWER_" + name.upper().replace("-", "_") for name in flower_options._options}


def env_example_variables() -> set[str]:
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z_]+=", line)}


def test_the_deployment_has_every_service_and_the_simulator_only_in_dev() -> None:
    assert set(SERVICES) == {"redis", "postgres", "migrate", "worker", "flower", "simulator"}
    assert SERVICES["simulator"]["profiles"] == ["dev"]
    assert all("profiles" not in SERVICES[name] for name in set(SERVICES) - {"simulator"})


def test_the_worker_can_be_scaled() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker  # a fixed host port would stop the second replica
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_migration_runs_once_and_before_the_workers() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["paynet-gateway", "db", "upgrade"]
    assert migrate["restart"] == "no"


@pytest.mark.parametrize("service", PROJECT_SERVICES)
def test_each_project_service_runs_a_command_the_project_has(service: str) -> None:
    command = SERVICES[service]["command"]
    assert isinstance(command, list), "a list, so no shell gets between Docker and the process"
    if command[0] == "paynet-gateway":
        scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
        assert scripts["paynet-gateway"] == "worker.cli:main"
        build_parser().parse_args(command[1:])  # exits (fails the test) on an unknown command
    else:
        assert command[0] == "celery"
        options, subcommand = celery_options(command[1:])
        assert subcommand in celery_command.commands
        if "-A" in options:
            # Celery's own look-up, as `celery -A` does it; it needs no configuration.
            assert isinstance(find_app(options["-A"]), Celery)
        else:
            assert options["--broker"].startswith("redis://")


def celery_options(argv: list[str]) -> tuple[dict[str, str], str]:
    """Celery's global options (each takes a value here) and the subcommand after them."""
    options: dict[str, str] = {}
    while argv[0].startswith("-"):
        options[argv[0]], argv = argv[1], argv[2:]
    return options, argv[0]


@pytest.mark.parametrize("service", PROJECT_SERVICES)
def test_each_variable_a_project_service_sets_is_one_the_configuration_reads(
    service: str,
) -> None:
    known = config_variables() | READ_BY_THE_LOADER | READ_BY_CELERY
    if service == "flower":
        known |= flower_variables()
    unknown = set(SERVICES[service].get("environment", {})) - known
    assert not unknown, f"{service} sets variables nothing reads: {sorted(unknown)}"


def test_every_variable_the_file_takes_from_env_is_in_env_example_and_no_other() -> None:
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    assert set(INTERPOLATED.findall(text)) == env_example_variables()


def test_secrets_come_from_the_env_file_which_git_ignores() -> None:
    for spec in SERVICES.values():
        for name, value in (spec.get("environment") or {}).items():
            if "PASSWORD" in name or name in {"PAYNET_TOKEN_KEY", "FLOWER_BASIC_AUTH"}:
                assert str(value).startswith("${"), f"{name} is written in the file"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT, check=False
    ).returncode
    assert ignored == 0
    assert all(not line.split("=", 1)[1] for line in _example_lines("PASSWORD"))


def _example_lines(word: str) -> list[str]:
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    return [line for line in lines if "=" in line and word in line.split("=", 1)[0]]


def test_the_image_installs_the_project_with_flower_and_copies_what_exists() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert 'pip install -e ".[ops]"' in dockerfile
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("flower") for dep in extras["optional-dependencies"]["ops"])
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO_ROOT / source).exists(), source
