"""The Dockerfile, parsed (no Docker engine here): a wheel on locked dependencies, as non-root.

Its last stage is the image that is deployed (``docker build`` builds it by default): it
installs the lock file and the wheel that the first stage builds from the production code
only, with no editable install, no dev extra, no simulator, development services or tests.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

import pytest

from tests.support.workers import REPO_ROOT
from tools.lock import LOCKS

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kind, args in self.instructions if kind == keyword]


def stages(text: str) -> list[Stage]:
    """The stages, each with its instructions (continuation lines joined, comments dropped)."""
    joined = re.sub(r"\\\n", " ", text)
    found: list[Stage] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            parts = args.split()
            found.append(Stage(parts[0], parts[2] if len(parts) > 2 else ""))
        else:
            found[-1].instructions.append((keyword.upper(), args.strip()))
    return found


STAGES = stages(DOCKERFILE)
BUILD, IMAGE = STAGES[0], STAGES[-1]
RUNTIME_LOCK = next(lock for lock in LOCKS if "dev" not in lock.extras)


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), "exec form: no shell between the runtime and the process"
    return [str(item) for item in value]


def test_the_wheel_is_built_from_the_production_code_only() -> None:
    copied = {source for args in BUILD.all("COPY") for source in shlex.split(args)[:-1]}
    assert {"worker", "tasks", "migrations", "pyproject.toml"} <= copied
    assert not copied & {".", "simulator", "devservices", "tests", "bench", "demo", "tools"}
    assert any(run.startswith("pip wheel --no-deps") for run in BUILD.all("RUN"))


def test_the_image_installs_the_lock_then_the_wheel_adding_nothing() -> None:
    runs = [run for run in IMAGE.all("RUN") if "pip install" in run]
    assert len(runs) == 2
    assert f"pip install --no-deps -r /tmp/{RUNTIME_LOCK.path}" in runs[0]
    assert "pip install --no-deps /tmp/wheels/*.whl" in runs[1]
    assert any(f"{RUNTIME_LOCK.path} " in copy for copy in IMAGE.all("COPY"))
    assert f"--from={BUILD.name} /wheels" in " ".join(IMAGE.all("COPY"))
    assert "gevent" in RUNTIME_LOCK.extras and "ops" in RUNTIME_LOCK.extras  # the pool, Flower


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_no_stage_installs_editable_or_the_dev_extra(stage: Stage) -> None:
    for run in stage.all("RUN"):
        assert " -e " not in f" {run} " and "--editable" not in run
        assert "[dev" not in run and "[test" not in run
        assert "requirements-dev" not in run


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    (user,) = IMAGE.all("USER")
    assert user not in {"root", "0"} and not user.startswith(("root:", "0:"))
    assert any(f"--uid {user}" in run for run in IMAGE.all("RUN"))


def test_the_image_checks_a_workers_liveness_with_the_probe_command() -> None:
    (check,) = IMAGE.all("HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    assert exec_form(command) == ["python", "-m", "worker.probes", "live"]
    assert "--interval=" in options and "--timeout=" in options


def test_the_worker_command_takes_its_log_level_and_concurrency_from_the_environment() -> None:
    (cmd,) = IMAGE.all("CMD")
    argv = exec_form(cmd)
    assert argv[:4] == ["celery", "-A", "worker", "worker"]
    assert not {"--loglevel", "-l", "--concurrency", "-c"} & set(argv)
    env = " ".join(IMAGE.all("ENV"))
    for variable in ("CELERY_WORKER_CONCURRENCY=", "LOG_LEVEL=", "PAYNET_PROBE_DIR=",
                     "PAYNET_CONFIG="):  # fmt: skip
        assert variable in env


def test_the_simulator_stage_is_not_the_image() -> None:
    names = [stage.name for stage in STAGES]
    assert names.index("simulator") < len(STAGES) - 1
