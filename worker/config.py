"""Loading ``config.yaml``: ``${VAR}`` interpolation, validation, and errors that name the key.

A configuration error stops start-up with a message naming the key and the problem; the value
itself is never echoed, since it may be a password.

A process loads only the part it needs, and only that part's variables are read: a missing
``PAYNET_PASSWORD`` stops a worker, never Flower or ``paynet-gateway db status``.

- ``get_infrastructure()``: database, Redis, Celery, logging, metrics (``celeryconfig``, the
  logs, the CLI's database, ledger and result commands);
- ``get_operator_settings()``: all but the Paynet passwords (``call`` and the token commands);
- ``get_settings()``: everything (a worker, and whatever logs in to Paynet).
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from worker.core.outages import first_line
from worker.core.redaction import register_secret
from worker.core.secret_env import SecretEnvironment, SecretSourceError
from worker.settings import Infrastructure, OperatorSettings, Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}")
_PASSWORD_IN_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:)(.*)@")
Loaded = TypeVar("Loaded", bound=Infrastructure)
Raw = dict[str, Any]


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


def shown_url(url: str) -> str:
    """A server's URL as it may be printed: its password, if it has one, as ***."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url, count=1)


def _masked(text: str, url: str) -> str:
    found = _PASSWORD_IN_URL.match(url)
    password = found.group(2) if found else ""
    return text.replace(password, "***") if password else text


def out_of_reach(settings: Infrastructure, key: str, url: str, exc: BaseException) -> str:
    """One line for a server that does not answer: the setting, where, the driver's first line."""
    return f"{settings.named(key)} {shown_url(url)}: {_masked(first_line(exc), url)}"


def unusable(settings: Infrastructure, key: str, url: str, exc: BaseException) -> ConfigError:
    """A URL that passed validation but that its driver cannot use (a malformed one, a driver
    that is not installed): the setting and the driver's first line, never the password."""
    return ConfigError(f"{settings.named(key)}: not a usable URL: {_masked(first_line(exc), url)}")


def interpolate(value: str, env: Mapping[str, str], key: str) -> str | None:
    """Replace ``${VAR}`` and ``${VAR:-default}``; a value that ends up empty means "not set"."""

    def substitute(match: re.Match[str]) -> str:
        name, has_default, default = match.group(1), match.group(2), match.group(3)
        try:
            if name in env and env[name] != "":
                return env[name]
        except SecretSourceError as exc:
            raise ConfigError(f"{key}: {exc}") from None
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


# Keys an older file may still hold, and what replaced them, so its error says what to write.
_REPLACED = {
    "state_field": "status_field (Paynet's record has a status member, no state)",
    "succeeded_states": 'succeeded_statuses (strings, as Paynet writes them: ["0"])',
    "lock_ttl": "refresh_request_ttl (what it always was: a refresh request's life)",
}
# Keys that no longer exist: fixed by the gateway, as nothing was gained by tuning them.
_REMOVED = frozenset(
    {
        "expiry_leeway",
        "wait_step",
        "max_refresh_cycles",
        "refresh_backoff_initial",
        "refresh_backoff_max",
    }
)


def _unknown(loc: tuple[int | str, ...]) -> str:
    name = str(loc[-1]) if loc else ""
    if name in _REPLACED:
        return f"unknown key, replaced by {_REPLACED[name]}"
    if name in _REMOVED:
        return "unknown key: no longer a setting (the gateway fixes it); remove it"
    return "unknown key"


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = _unknown(item["loc"]) if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{key}: {message}")
    return "invalid configuration: " + "; ".join(lines)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("PAYNET_CONFIG") or REPO_ROOT / "config.yaml")


def _read_yaml(text: str, source: str) -> Raw:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}: not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    return raw


def _variables(node: Any, key: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    """Each key written with ``${VAR}``, and the variables it names."""
    if isinstance(node, dict):
        for name, child in node.items():
            yield from _variables(child, f"{key}.{name}" if key else str(name))
    elif isinstance(node, str) and (found := _VARIABLE.findall(node)):
        yield key, tuple(match[0] for match in found)


def _infrastructure_part(raw: Raw) -> Raw:
    """Only the infrastructure's sections: the others are not even interpolated."""
    return {name: raw[name] for name in Infrastructure.model_fields if name in raw}


def _without_passwords(raw: Raw) -> Raw:
    """The file with each profile's password taken out before its variable is read."""
    trimmed = copy.deepcopy(raw)
    paynet = trimmed.get("paynet")
    profiles = paynet.get("profiles") if isinstance(paynet, dict) else None
    if isinstance(profiles, dict):
        for profile in profiles.values():
            if isinstance(profile, dict):
                profile.pop("password", None)
    integrations = trimmed.get("integrations")
    if isinstance(integrations, dict):
        for integration in integrations.values():
            token = integration.get("token") if isinstance(integration, dict) else None
            if isinstance(token, dict):
                token.pop("secret_fields", None)
    return trimmed


def _parse(
    text: str, env: Mapping[str, str], source: str, model: type[Loaded], part: Callable[[Raw], Raw]
) -> Loaded:
    whole = _read_yaml(text, source)
    raw = part(whole)
    # NAME_FILE and the secrets directory (worker/core/secret_env.py): read here, never put
    # back into the process's environment.
    resolved = _resolve(raw, SecretEnvironment(env), "")
    try:
        settings = model.model_validate(resolved)
    except ValidationError as exc:
        problem = _describe(exc)
    else:
        settings._variables = dict(_variables(raw))
        settings._integration_names = _integration_names(whole)
        _register_secrets(settings)
        return settings
    # Raised outside the handler so the pydantic error, which quotes input values, is not kept
    # as __context__ where a traceback printer would show a secret.
    raise ConfigError(problem)


def parse_settings(text: str, env: Mapping[str, str], source: str = "config") -> Settings:
    return _parse(text, env, source, Settings, lambda raw: raw)


def parse_operator_settings(
    text: str, env: Mapping[str, str], source: str = "config"
) -> OperatorSettings:
    return _parse(text, env, source, OperatorSettings, _without_passwords)


def parse_infrastructure(
    text: str, env: Mapping[str, str], source: str = "config"
) -> Infrastructure:
    return _parse(text, env, source, Infrastructure, _infrastructure_part)


def _integration_names(whole: Raw) -> tuple[str, ...]:
    """The integrations' names, which every process (Celery's configuration) needs for their
    queues, read without interpolating, or even looking into, their blocks."""
    integrations = whole.get("integrations")
    return tuple(str(name) for name in integrations) if isinstance(integrations, dict) else ()


def _register_secrets(settings: Infrastructure) -> None:
    """Secrets enter the process here: from now on the log filter masks them."""
    if isinstance(settings, Settings):
        for profile in settings.paynet.profiles.values():
            register_secret(profile.password.get_secret_value())
        for integration in settings.integrations.values():
            for secret in integration.secrets():
                register_secret(secret)
    keys = (
        settings.security.token_keys if isinstance(settings, OperatorSettings | Settings) else None
    )
    if keys is not None:
        for key in keys.get_secret_value().split(","):
            register_secret(key.strip())


def _read(path: Path | None, env: Mapping[str, str]) -> tuple[str, str]:
    path = path or config_path(env)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    return _load(path, os.environ if env is None else env, parse_settings)


def load_operator_settings(
    path: Path | None = None, env: Mapping[str, str] | None = None
) -> OperatorSettings:
    return _load(path, os.environ if env is None else env, parse_operator_settings)


def load_infrastructure(
    path: Path | None = None, env: Mapping[str, str] | None = None
) -> Infrastructure:
    return _load(path, os.environ if env is None else env, parse_infrastructure)


def _load(
    path: Path | None,
    env: Mapping[str, str],
    parse: Callable[[str, Mapping[str, str], str], Loaded],
) -> Loaded:
    text, source = _read(path, env)
    return parse(text, env, source)


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read once: only a worker (or what logs in to Paynet) needs them."""
    return load_settings()


@functools.cache
def get_operator_settings() -> OperatorSettings:
    """All but the Paynet passwords, read once."""
    return load_operator_settings()


@functools.cache
def get_infrastructure() -> Infrastructure:
    """The servers, the broker and the logs, read once; no Paynet variable is read."""
    return load_infrastructure()
