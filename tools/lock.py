"""The lock files, and whether they still match pyproject.toml.

``python -m tools.lock update [--upgrade]`` (``make lock``) resolves with uv from PyPI, keeping
the pins that still fit unless told to upgrade;
``python -m tools.lock check`` (``make lock-check``, run by CI) needs no network: each lock
file's first line records a digest of the dependency tables it was resolved from, and every
pin must satisfy what pyproject.toml asks. A dependency edited without ``make lock`` fails it.

    requirements.lock       the image: the dependencies, Flower (ops) and the gevent pool
    requirements-dev.lock   make setup, make test, CI: the dev extra (tests and tools) too
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "3.11"  # the image's, and the oldest the project supports


@dataclass(frozen=True)
class Lock:
    path: str
    extras: tuple[str, ...]


LOCKS = (
    Lock("requirements.lock", ("ops", "gevent")),
    Lock("requirements-dev.lock", ("dev", "ops")),
)
DIGEST = re.compile(r"^# inputs: sha256=([0-9a-f]{64})$")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)")


def inputs_digest(pyproject: dict[str, Any], lock: Lock) -> str:
    """What a resolution depends on: the Python floor, the dependencies, the extras chosen."""
    project = pyproject["project"]
    inputs = {
        "python": PYTHON,
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "extras": lock.extras,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def pins(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = PIN.match(line.strip())
        if match:
            found[str(canonicalize_name(match[1]))] = str(match[2])
    return found


def requirements(pyproject: dict[str, Any], extras: tuple[str, ...]) -> list[Requirement]:
    """The project's own requirements for ``extras``, its self-references expanded."""
    project = pyproject["project"]
    name, optional = canonicalize_name(project["name"]), project["optional-dependencies"]
    found, pending, seen = [Requirement(r) for r in project["dependencies"]], list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for raw in optional[extra]:
            requirement = Requirement(raw)
            if canonicalize_name(requirement.name) == name:
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def problems(pyproject: dict[str, Any], lock: Lock, text: str) -> list[str]:
    """Why ``text`` (the lock file) no longer matches ``pyproject``; empty when it does."""
    first = text.splitlines()[0] if text else ""
    digest = DIGEST.match(first)
    found = []
    if digest is None or digest[1] != inputs_digest(pyproject, lock):
        found.append(f"{lock.path} was resolved from other dependencies than pyproject.toml's")
    pinned = pins(text)
    for requirement in requirements(pyproject, lock.extras):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None:
            found.append(f"{lock.path} pins no {requirement.name}")
        elif not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{lock.path} pins {requirement.name}=={version}, outside {requirement}")
    return found


def load_pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def check() -> int:
    pyproject = load_pyproject()
    found = []
    for lock in LOCKS:
        path = ROOT / lock.path
        found += problems(pyproject, lock, path.read_text() if path.exists() else "")
    for problem in found:
        print(f"lock: {problem}", file=sys.stderr)
    if found:
        print("lock: run make lock, and commit the lock files", file=sys.stderr)
        return 1
    print("lock: " + ", ".join(lock.path for lock in LOCKS) + " match pyproject.toml")
    return 0


def update(upgrade: list[str]) -> int:
    """Resolve each lock, keeping its pins where they still fit (``--upgrade``: the newest)."""
    pyproject = load_pyproject()
    for lock in LOCKS:
        argv = [sys.executable, "-m", "uv", "pip", "compile", "pyproject.toml", "--quiet",
                "--universal", "--python-version", PYTHON, "--no-header",
                "--output-file", lock.path, *upgrade]  # fmt: skip
        argv += [arg for extra in lock.extras for arg in ("--extra", extra)]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        body = (ROOT / lock.path).read_text()
        body = "".join(line for line in body.splitlines(True) if not line.startswith("# inputs: "))
        body = body.split("\n", 1)[1] if body.startswith("# Resolved by") else body
        header = (
            f"# inputs: sha256={inputs_digest(pyproject, lock)}\n"
            f"# Resolved by make lock (tools/lock.py) for Python {PYTHON}, extras: "
            f"{', '.join(lock.extras)}. Do not edit: change pyproject.toml, then make lock.\n"
        )
        (ROOT / lock.path).write_text(header + body)
    return check()


def main(argv: list[str]) -> int:
    if argv == ["check"]:
        return check()
    if argv[:1] == ["update"] and argv[1:] in ([], ["--upgrade"]):
        return update(argv[1:])
    print("usage: python -m tools.lock check | update [--upgrade]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
