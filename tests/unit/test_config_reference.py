"""The configuration reference (docs/configuration.md) against the settings model and config.yaml.

Every setting the model has is a row, no row names a setting the model lacks, and each row's
variable and default are the ones config.yaml gives: the table cannot drift from the code.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

from tests.support.workers import REPO_ROOT
from worker.settings import Settings

VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?\}$")
ROW = re.compile(r"^\| `([^`]+)` \| (.+?) \| (.+?) \| (.+) \|$")
REFERENCE = REPO_ROOT / "docs" / "configuration.md"


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if inspect.isclass(annotation) and issubclass(annotation, BaseModel) else None


def model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted keys of every leaf setting; ``*`` stands for a name the user chooses (a profile)."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _model(field.annotation)
        if get_origin(field.annotation) is dict:
            nested, key = _model(get_args(field.annotation)[1]), f"{key}.*"
        keys |= model_keys(nested, f"{key}.") if nested else {key}
    return keys


def named_maps(model: type[BaseModel], prefix: str = "") -> set[str]:
    """The keys whose children are names the user chooses (``paynet.profiles``, ...)."""
    found: set[str] = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        if get_origin(field.annotation) is dict:
            found.add(key)
            nested = _model(get_args(field.annotation)[1])
            if nested:
                found |= named_maps(nested, f"{key}.*.")
        elif nested := _model(field.annotation):
            found |= named_maps(nested, f"{key}.")
    return found


def shipped_values() -> dict[str, Any]:
    """config.yaml's leaves by generic key (profile names as ``*``), as written in the file."""
    maps = named_maps(Settings)
    values: dict[str, Any] = {}

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for name, child in node.items():
                generic = ".".join(path)
                walk(child, [*path, "*" if generic in maps else str(name)])
        else:
            values[".".join(path)] = node

    walk(yaml.safe_load((REPO_ROOT / "config.yaml").read_text()), [])
    return values


def reference_rows() -> dict[str, tuple[str, str, str]]:
    """The rows of the reference's settings table: key -> (variable, default, meaning)."""
    text = REFERENCE.read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str, str]] = {}
    for line in section.splitlines():
        if match := ROW.match(line):
            key = re.sub(r"<[a-z]+>", "*", match.group(1))
            assert key not in rows, f"{key} twice in the table"
            rows[key] = (match.group(2).strip("`"), match.group(3), match.group(4))
    return rows


ROWS = reference_rows()
SHIPPED = shipped_values()


def test_the_reference_lists_every_setting_and_nothing_else() -> None:
    keys = model_keys(Settings)
    assert keys - set(ROWS) == set(), "settings missing from docs/configuration.md"
    assert set(ROWS) - keys == set(), "rows for settings the model does not have"


@pytest.mark.parametrize("key", sorted(ROWS))
def test_each_row_gives_the_variable_and_default_that_config_yaml_gives(key: str) -> None:
    variable, default, meaning = ROWS[key]
    assert meaning.strip(), f"{key} has no meaning"
    written = SHIPPED.get(key)
    match = VARIABLE.match(written) if isinstance(written, str) else None
    if match is None:
        assert variable == "-", f"config.yaml reads no variable for {key}"
        return
    assert variable == match.group(1)
    if match.group(2) is None:
        assert default == "required"
    elif match.group(2) == "":
        assert default == "-"
    else:
        assert default == f"`{match.group(2)}`"


def test_the_model_walk_sees_nested_and_named_settings() -> None:
    keys = model_keys(Settings)
    assert {"paynet.profiles.*.timeouts.read", "token.login_budget.window", "metrics.port"} <= keys
    assert "ledger.status_methods.*.not_found_codes" in keys
