"""Validating ``paynet.call`` arguments: bad input fails here, before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from worker.errors import InvalidRequest

_METHOD = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,99}$")
_PATH = re.compile(r"^/[A-Za-z0-9_./-]{0,199}$")
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class CallRequest:
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    profile: str = "default"
    idempotency_key: str | None = None
    keyed_by_agent_id: bool = False  # the key is the agent's own id: the producer gave none


def parse_call(
    kwargs: Mapping[str, Any],
    profiles: Collection[str],
    agent_ids: Mapping[str, str] | None = None,
) -> CallRequest:
    """Turn the task's kwargs into a request, or raise ``InvalidRequest`` naming the argument.

    ``agent_ids`` maps each method that has a status method to its id param: such a call that
    comes without an idempotency key is keyed by the agent's transaction id, so that it goes
    through the ledger (and is reconciled, never sent twice) like a keyed one.
    """
    known = {"method", "params", "path", "profile", "idempotency_key"}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise InvalidRequest(f"unknown argument(s): {', '.join(unknown)}")
    method = _method(kwargs.get("method"))
    params = _params(kwargs.get("params"))
    path = kwargs.get("path")
    if path is not None and (
        not isinstance(path, str) or not _PATH.fullmatch(path) or ".." in path
    ):
        raise InvalidRequest("path: must be a resource path such as /v2/gw/transaction")
    profile = kwargs.get("profile", "default")
    if not isinstance(profile, str) or profile not in profiles:
        raise InvalidRequest(f"profile: unknown profile {str(profile)[:64]!r}")
    key = kwargs.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH):
        raise InvalidRequest(
            f"idempotency_key: must be a non-empty string of at most {MAX_KEY_LENGTH} characters"
        )
    id_param = (agent_ids or {}).get(method)
    if key is not None or id_param is None:
        return CallRequest(method, params, path, profile, key)
    agent_key = _agent_key(method, params, id_param)
    return CallRequest(method, params, path, profile, agent_key, keyed_by_agent_id=True)


def _method(method: Any) -> str:
    if not isinstance(method, str) or not method:
        raise InvalidRequest("method: required, a non-empty string")
    if not _METHOD.fullmatch(method) or method == "login":
        raise InvalidRequest(f"method: {method[:100]!r} is not a valid Paynet method name")
    return method


def _params(params: Any) -> dict[str, Any]:
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise InvalidRequest(f"params: must be an object, got {type(params).__name__}")
    if "token" in params:
        raise InvalidRequest("params: must not contain 'token'; the gateway adds it")
    json_only(params, "params", 0)
    return params


_SCALARS = (str, int, float, Decimal, bool, type(None))
MAX_DEPTH = 32


def json_only(value: Any, where: str, depth: int = 0) -> None:
    """What kombu decodes beyond JSON (a datetime, bytes) cannot go to Paynet: say where."""
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidRequest(f"{where}: keys must be strings")
            json_only(item, f"{where}.{key[:64]}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            json_only(item, f"{where}[{index}]", depth + 1)
    elif not isinstance(value, _SCALARS):
        raise InvalidRequest(f"{where}: a {type(value).__name__} cannot be sent as JSON")


def _agent_key(method: str, params: dict[str, Any], id_param: str) -> str:
    """The agent's own transaction id, as the key of a call that came without one."""
    agent_id = params.get(id_param)
    if isinstance(agent_id, bool) or not isinstance(agent_id, str | int) or agent_id == "":
        raise InvalidRequest(
            f"params.{id_param}: {method} needs the agent's transaction id, which is its "
            "idempotency key (or pass idempotency_key)"
        )
    if len(str(agent_id)) > MAX_KEY_LENGTH:
        raise InvalidRequest(f"params.{id_param}: at most {MAX_KEY_LENGTH} characters")
    return str(agent_id)
