"""docker-compose.yml, read without Docker: every command exists here, every variable is read.

No Docker engine runs on the machines that run this suite, so the file is checked against the
project itself: a service's command must be the console script with a subcommand its parser
accepts, or ``celery`` with an app this repository defines and a subcommand Celery has; a
variable a project service sets must be one that config.yaml (or Celery, or Flower) reads; a
health check must ask the service itself (a worker its own node). tests/docker/ runs the file
for real where a Docker engine answers; tests/unit/test_monitoring.py reads monitoring/.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from typing import Any

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from celery.bin.celery import celery as celery_command
from click.testing import CliRunner
from tornado.options import options as flower_options

from tests.support.workers import REPO_ROOT
from worker.cli import cli as paynet_gateway
from worker.config import parse_operator_settings

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROJECT_SERVICES = sorted(name for name, spec in SERVICES.items() if "build" in spec)
WORKERS = sorted(name for name in PROJECT_SERVICES if SERVICES[name]["command"][3:4] == ["worker"])
FLOWERS = sorted(name for name in PROJECT_SERVICES if "flower" in SERVICES[name]["command"])
DEFAULT_STACK = {"redis", "postgres", "migrate", "worker", "flower"}
PROFILES = {
    "dev": {"simulator"},
    "rabbitmq": {"rabbitmq", "worker-rabbitmq", "flower-rabbitmq"},
    "monitoring": {"prometheus", "grafana"},
}
# What runs until stopped, and so has a health check (migrate ends; the simulator is a test aid;
# Prometheus and Grafana are looked at by people).
CHECKED = {
    "redis",
    "postgres",
    "worker",
    "flower",
    "rabbitmq",
    "worker-rabbitmq",
    "flower-rabbitmq",
}
INTERPOLATED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
REQUIRED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\?")
# A secret with an empty default: what a service of a profile takes (see the file's header).
OPTIONAL_SECRET = re.compile(r"^\$\{([A-Z_]*PASS[A-Z_]*):-\}$")
# user:password@ in a URL (host:port/ is no match: no @ follows).
URL_CREDENTIALS = re.compile(r"://([^/\s@:]+):(\$\{[^}]*\}|[^/\s@]*)@")
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


def test_the_default_stack_is_the_deployment_and_each_profile_only_adds_services() -> None:
    assert set(SERVICES) == DEFAULT_STACK.union(*PROFILES.values())
    assert all("profiles" not in SERVICES[name] for name in DEFAULT_STACK)
    for profile, names in PROFILES.items():
        for name in names:
            assert SERVICES[name]["profiles"] == [profile], name


@pytest.mark.parametrize("service", WORKERS)
def test_a_worker_can_be_scaled(service: str) -> None:
    worker = SERVICES[service]
    assert "container_name" not in worker
    assert "ports" not in worker  # a fixed host port would stop the second replica
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"


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
        # Its help: exit 2 (fails the test) on an unknown command or option, nothing is run.
        done = CliRunner().invoke(paynet_gateway, [*command[1:], "--help"])
        assert done.exit_code == 0, done.output
    else:
        assert command[0] == "celery"
        options, subcommand = celery_options(command[1:])
        assert subcommand in celery_command.commands
        if "-A" in options:
            # Celery's own look-up, as `celery -A` does it; it needs no configuration.
            assert isinstance(find_app(options["-A"]), Celery)
        else:
            assert options["--broker"].startswith(("redis://", "amqp://"))


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
    variables = config_variables()
    # Any variable config.yaml reads may come from a file instead (worker/core/secret_env.py).
    known = variables | {f"{name}_FILE" for name in variables} | READ_BY_THE_LOADER | READ_BY_CELERY
    if service in FLOWERS:
        known |= flower_variables()
    unknown = set(SERVICES[service].get("environment", {})) - known
    assert not unknown, f"{service} sets variables nothing reads: {sorted(unknown)}"


def test_every_variable_the_file_takes_from_env_is_in_env_example_and_no_other() -> None:
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    assert set(INTERPOLATED.findall(text)) == env_example_variables()


def test_secrets_come_from_the_env_file_which_git_ignores() -> None:
    for spec in SERVICES.values():
        for name, value in (spec.get("environment") or {}).items():
            if name.endswith("_FILE"):
                continue  # a path: test_the_gateway_reads_its_secrets_from_files checks it
            if "PASS" in name or name in {"PAYNET_TOKEN_KEY", "FLOWER_BASIC_AUTH"}:
                assert str(value).startswith("${"), f"{name} is written in the file"
    # A URL's password too, wherever the URL stands (environment, command, extension field).
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    for user, password in URL_CREDENTIALS.findall(text):
        assert password.startswith("${"), f"the password of {user} is written in the file"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT, check=False
    ).returncode
    assert ignored == 0
    assert all(not line.split("=", 1)[1] for line in _example_lines("PASSWORD"))


def test_the_gateway_reads_its_secrets_from_files() -> None:
    """Its password, token key and database URL are mounted in /run/secrets, each from the .env
    variable of the same name; none is in a container's environment."""
    sources = {name: spec["environment"] for name, spec in COMPOSE["secrets"].items()}
    assert set(sources.values()) <= env_example_variables()
    for service in ("migrate", "worker", "worker-rabbitmq"):
        spec = SERVICES[service]
        environment = spec["environment"]
        for variable in ("PAYNET_PASSWORD", "PAYNET_TOKEN_KEY", "DATABASE_URL"):
            assert variable not in environment, f"{service} has {variable} in its environment"
            secret = environment[f"{variable}_FILE"].removeprefix("/run/secrets/")
            assert secret in spec["secrets"] and sources[secret] == variable
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == (
        "/run/secrets/postgres_password"
    )
    for flower in FLOWERS:
        assert SERVICES[flower]["secrets"] == []  # the broker only: no credential at all
    required = set(REQUIRED.findall(yaml.safe_dump(COMPOSE["x-required-secrets"])))
    assert set(sources.values()) <= required  # a missing one stops `docker compose up`


def test_a_secret_only_a_profile_needs_never_stops_the_default_stack() -> None:
    """Compose interpolates every service, of inactive profiles too: a ``:?`` there must be one
    the default stack requires anyway."""
    required_by_default = set(REQUIRED.findall(yaml.safe_dump(COMPOSE["x-required-secrets"])))
    for name in DEFAULT_STACK:
        required_by_default |= set(REQUIRED.findall(yaml.safe_dump(SERVICES[name])))
    for name in set(SERVICES) - DEFAULT_STACK:
        extra = set(REQUIRED.findall(yaml.safe_dump(SERVICES[name]))) - required_by_default
        assert not extra, f"{name} requires {sorted(extra)}: the default stack would not start"


@pytest.mark.parametrize("service", sorted(set(SERVICES) - DEFAULT_STACK))
def test_a_profile_service_refuses_to_start_with_its_secret_empty(service: str) -> None:
    spec = SERVICES[service]
    for name, value in (spec.get("environment") or {}).items():
        variable = OPTIONAL_SECRET.match(str(value))
        if variable:
            guard = " ".join(spec["entrypoint"])
            assert f'test -n "$${name}"' in guard, f"{service} starts with {name} empty"
            assert f"set {variable[1]} in .env" in guard


def _example_lines(word: str) -> list[str]:
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    return [line for line in lines if "=" in line and word in line.split("=", 1)[0]]


def test_a_worker_is_given_longer_to_stop_than_a_payment_may_run() -> None:
    """SIGTERM is Celery's warm shutdown: a running payment finishes within its hard limit."""
    settings = parse_operator_settings(
        (REPO_ROOT / "config.yaml").read_text(), {"DATABASE_URL": "postgresql://db/paynet"}
    )
    for name in WORKERS:
        assert seconds(SERVICES[name]["stop_grace_period"]) > settings.call_time_limit() + 30


# Health checks


def test_the_services_that_run_until_stopped_have_a_health_check() -> None:
    assert {name for name, spec in SERVICES.items() if "healthcheck" in spec} == CHECKED


def test_redis_answers_a_ping_and_postgres_is_ready_for_the_gateway_database() -> None:
    assert SERVICES["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    postgres = SERVICES["postgres"]
    user, database = (
        postgres["environment"]["POSTGRES_USER"],
        postgres["environment"]["POSTGRES_DB"],
    )
    assert postgres["healthcheck"]["test"] == ["CMD-SHELL", f"pg_isready -U {user} -d {database}"]


@pytest.mark.parametrize("service", WORKERS)
def test_a_worker_health_check_pings_its_own_node(service: str) -> None:
    spec = SERVICES[service]
    options, _ = celery_options(spec["command"][1:])
    command = spec["command"]
    node = command[command.index("--hostname") + 1]
    assert node.endswith("@%h"), "the node name is the container's hostname"
    kind, check = spec["healthcheck"]["test"]
    assert kind == "CMD-SHELL", "a shell expands $HOSTNAME (the container's hostname, as %h)"
    argv = shlex.split(check)
    assert argv[:5] == ["celery", "-A", options["-A"], "inspect", "ping"]
    destination = argv[argv.index("--destination") + 1]
    # Compose turns $$ into $, and the shell $HOSTNAME into the name Celery gave %h.
    assert destination == node.replace("%h", "$$HOSTNAME")
    inspect_options = {
        opt for param in celery_command.commands["inspect"].params for opt in param.opts
    }
    assert {"--destination", "--timeout"} <= inspect_options
    assert float(argv[argv.index("--timeout") + 1]) < seconds(spec["healthcheck"]["timeout"])


def seconds(duration: str) -> int:
    """A Compose duration of whole seconds or minutes (all this file writes)."""
    found = re.fullmatch(r"(\d+)(s|m)", duration)
    assert found, duration
    return int(found[1]) * {"s": 1, "m": 60}[found[2]]


@pytest.mark.parametrize("service", FLOWERS)
def test_a_flower_health_check_asks_its_api_with_the_basic_auth_it_was_given(service: str) -> None:
    spec = SERVICES[service]
    kind, *argv = spec["healthcheck"]["test"]
    assert kind == "CMD"
    assert argv[:2] == ["python", "-c"]
    script = argv[2]
    compile(script, "healthcheck", "exec")
    assert 'os.environ["FLOWER_BASIC_AUTH"]' in script  # the credential the service is given
    assert "FLOWER_BASIC_AUTH" in spec["environment"]
    port = next(arg.split("=", 1)[1] for arg in spec["command"] if arg.startswith("--port="))
    # An API route (the UI's /healthcheck answers without a login, so it proves no auth).
    assert f"http://127.0.0.1:{port}/api/" in script
    assert ".raise_for_status()" in script


@pytest.mark.parametrize("service", FLOWERS)
def test_flower_names_the_broker_its_configuration_derives_from_its_environment(
    service: str,
) -> None:
    """Celery's default loader reads celeryconfig, whose broker is CELERY_BROKER_URL or else
    REDIS_URL (config.yaml): it must agree with --broker, or Flower watches another broker."""
    spec = SERVICES[service]
    options, _ = celery_options(spec["command"][1:])
    environment = spec["environment"]
    assert options["--broker"] == environment.get("CELERY_BROKER_URL", environment["REDIS_URL"])
    assert environment["REDIS_URL"] == SERVICES["worker"]["environment"]["REDIS_URL"]
    assert spec["depends_on"]["redis"]["condition"] == "service_healthy"


# RabbitMQ


def test_the_rabbitmq_profile_runs_a_worker_and_flower_on_rabbitmq() -> None:
    rabbitmq = SERVICES["rabbitmq"]
    assert rabbitmq["image"] == "rabbitmq:3-management"
    assert rabbitmq["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    user, password = (rabbitmq["environment"][f"RABBITMQ_DEFAULT_{k}"] for k in ("USER", "PASS"))
    broker = SERVICES["worker-rabbitmq"]["environment"]["CELERY_BROKER_URL"]
    assert broker == f"amqp://{user}:{password}@rabbitmq:5672//"
    assert SERVICES["flower-rabbitmq"]["environment"]["CELERY_BROKER_URL"] == broker
    for name in ("worker-rabbitmq", "flower-rabbitmq"):
        assert SERVICES[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"


def test_the_rabbitmq_worker_is_the_worker_on_another_broker() -> None:
    worker, other = SERVICES["worker"], SERVICES["worker-rabbitmq"]
    assert other["command"] == worker["command"]
    assert other["healthcheck"] == worker["healthcheck"]
    moved = {
        name
        for name in set(worker["environment"]) | set(other["environment"])
        if worker["environment"].get(name) != other["environment"].get(name)
    }
    # Only the broker moves: locks, budget and results stay on Redis, tokens and ledger in
    # PostgreSQL, so both kinds of worker share one token.
    assert moved == {"CELERY_BROKER_URL"}
