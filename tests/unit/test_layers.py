"""The layers of ``worker/`` point one way: read from the code's own imports, functions included.

``.venv/bin/python -m pytest tests/unit/test_layers.py`` is the check anyone can run: a module
importing one above it, or an import cycle anywhere in ``worker/``, fails it by name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.workers import REPO_ROOT

WORKER = REPO_ROOT / "worker"

# What each part of worker/ may import of the gateway, besides itself. Mechanisms sit between
# the wiring above (runtime, lifecycle, the app, the CLI) and the shared core below.
CORE = {"worker.core", "worker.settings", "worker.integration_settings", "worker.settings_base"}
ALLOWED: dict[str, set[str]] = {
    "worker.settings": {"worker.queues", "worker.integration_settings", "worker.settings_base"},
    "worker.integration_settings": {"worker.settings_base"},
    "worker.settings_base": set(),
    "worker.summary": set(),
    "worker.errors": {"worker.summary"},
    "worker.queues": set(),
    "worker.broker": {"worker.queues"},
    "worker.core": CORE,
    "worker.config": CORE,
    "worker.db": CORE,
    "worker.paynet": CORE,
    "worker.tokens": CORE | {"worker.paynet", "worker.db"},
    "worker.ledger": CORE | {"worker.paynet", "worker.db"},
    "worker.calls": CORE
    | {"worker.tokens", "worker.ledger", "worker.paynet", "worker.errors", "worker.summary"},
    "worker.logs": CORE | {"worker.config"},
    # Bearer integrations: the token mechanism and the wait signal as paynet.call uses them,
    # and the staged HTTP transport; never the ledger.
    "worker.integrations": CORE
    | {"worker.tokens", "worker.calls", "worker.paynet", "worker.errors", "worker.summary"},
    # The producer's side: a payment-service imports it without any Paynet configuration, so
    # it reaches only the contract (errors, queue names, the summary of a value), of
    # worker.calls only its reprs (tests/unit/test_producer_client.py checks that in a fresh
    # interpreter).
    "worker.schema": set(),
    "worker.limits": {"worker.settings", "worker.queues"},
    "worker.production": {"worker.settings"},
    # Read by the probe command, which must start fast: the standard library only (step.py,
    # which the app installs, adds Celery).
    "worker.probes": set(),
}
WIRING = (
    "worker.runtime",
    "worker.lifecycle",
    "worker.celery",
    "worker.celeryconfig",
    "worker.cli",
    "worker.masking",
    "worker.sweeps",
)
PURE = (
    "worker.tokens.policy",
    "worker.ledger.policy",
    "worker.paynet.verdicts",
    "worker.paynet.stages",
    "worker.production",
    "worker.db.versions",
    "worker.probes.verdict",
)
IO_LIBRARIES = ("requests", "urllib3", "redis", "sqlalchemy", "prometheus_client", "celery")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[str]:
    """Every module a file imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


MODULES = {module_name(path): path for path in WORKER.rglob("*.py")}
GRAPH = {
    name: {found for found in imports(path) if found in MODULES and found != name}
    for name, path in MODULES.items()
}


def part(name: str) -> str:
    """The package (or top-level module) a module belongs to: worker.tokens, worker.config..."""
    pieces = name.split(".")
    return ".".join(pieces[:2])


@pytest.mark.parametrize("name", sorted(n for n in MODULES if part(n) in ALLOWED))
def test_each_module_imports_only_what_lies_below_it(name: str) -> None:
    own = part(name)
    above = sorted(t for t in GRAPH[name] if part(t) != own and part(t) not in ALLOWED[own])
    assert not above, f"{name} imports {above}, which {own} may not"


def test_no_mechanism_imports_the_wiring() -> None:
    wrong = {n: sorted(t for t in GRAPH[n] if t.startswith(WIRING)) for n in MODULES}
    assert not {n: t for n, t in wrong.items() if t and not n.startswith(WIRING)}


@pytest.mark.parametrize("name", PURE)
def test_the_pure_decisions_import_no_io_library(name: str) -> None:
    seen: set[str] = set()
    pending = [name]
    while pending:  # what the module imports of the gateway, transitively
        current = pending.pop()
        if current not in seen:
            seen.add(current)
            pending.extend(GRAPH[current])
    libraries = {found.split(".")[0] for module in seen for found in imports(MODULES[module])}
    assert not libraries & set(IO_LIBRARIES), f"{name} reaches {libraries & set(IO_LIBRARIES)}"


def test_the_import_graph_has_no_cycle() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(GRAPH[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(MODULES):
        if name not in state:
            visit(name, [name])
    assert not cycles, f"import cycles: {cycles}"
