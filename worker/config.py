"""Loading ``config.yaml``: ``${VAR}`` interpolation, validation, and errors that name the key.

A configuration error stops start-up with a message naming the key and the problem; the value
itself is never echoed, since it may be a password.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from worker.core.redaction import register_secret
from worker.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


def interpolate(value: str, env: Mapping[str, str], key: str) -> str | None:
    """Replace ``${VAR}`` and ``${VAR:-default}``; a value that ends up empty means "not set"."""

    def substitute(match: re.Match[str]) -> str:
        name, has_default, default = match.group(1), match.group(2), match.group(3)
        if name in env and env[name] != "":
            return env[name]
        if has_default is not None:
            return default or ""
        raise ConfigError(f"{key}: environment variable {name} is not set")

    result = _VARIABLE.sub(substitute, value)
    return None if result == "" and _VARIABLE.search(value) else result


def _resolve(node: Any, env: Mapping[str, str], key: str) -> Any:
    if isinstance(node, dict):
        return {k: _resolve(v, env, f"{key}.{k}" if key else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, env, f"{key}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):
        return interpolate(node, env, key)
    return node


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{key}: {message}")
    return "invalid configuration: " + "; ".join(lines)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("PAYNET_CONFIG") or REPO_ROOT / "config.yaml")


def parse_settings(text: str, env: Mapping[str, str], source: str = "config") -> Settings:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    resolved = _resolve(raw, env, "")
    try:
        settings = Settings.model_validate(resolved)
    except ValidationError as exc:
        problem = _describe(exc)
    else:
        _register_secrets(settings)
        return settings
    # Raised outside the handler so the pydantic error, which quotes input values, is not kept
    # as __context__ where a traceback printer would show a secret.
    raise ConfigError(problem)


def _register_secrets(settings: Settings) -> None:
    """Secrets enter the process here: from now on the log filter masks them."""
    for profile in settings.paynet.profiles.values():
        register_secret(profile.password.get_secret_value())
    keys = settings.security.token_keys
    if keys is not None:
        for key in keys.get_secret_value().split(","):
            register_secret(key.strip())


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    path = path or config_path(env)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
    return parse_settings(text, env, source=str(path))


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
