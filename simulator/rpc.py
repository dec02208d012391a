"""The simulated Paynet application: JSON-RPC requests in, JSON-RPC answers out, no HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import jsonrpc
from .state import SimulatorState


@dataclass(frozen=True)
class Request:
    """A well-formed JSON-RPC request."""

    id: Any
    method: str
    params: Any
    body: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Reply:
    """A JSON-RPC answer and the HTTP status to send it with."""

    payload: dict[str, Any]
    status: int = 200


def parse_request(body: bytes) -> Request | Reply:
    """A request, or the error answer for a body that is not one."""
    try:
        data = jsonrpc.loads(body)
    except (ValueError, RecursionError):
        return Reply(jsonrpc.error(None, jsonrpc.PARSE_ERROR, "parse error"))
    if not isinstance(data, dict):
        return Reply(jsonrpc.error(None, jsonrpc.INVALID_REQUEST, "invalid request"))
    request_id = data.get("id")
    method = data.get("method")
    if not isinstance(method, str):
        return Reply(jsonrpc.error(request_id, jsonrpc.INVALID_REQUEST, "invalid request"))
    return Request(id=request_id, method=method, params=data.get("params", {}), body=data)


def login(state: SimulatorState, request: Request, issue_token: bool = True) -> Reply:
    """Answer the login method; without ``issue_token`` the result lacks the token field."""
    if request.method != "login":
        return Reply(jsonrpc.error(request.id, jsonrpc.METHOD_NOT_FOUND, "method not found"))
    params = request.params if isinstance(request.params, dict) else {}
    outcome = state.login(
        params.get("username"), params.get("password"), params.get("terminal_id"), issue_token
    )
    account = outcome.account
    if account is None:
        return refusal(request)
    result: dict[str, Any] = {
        "agentId": account.agent_id,
        "terminalId": str(account.terminal_id),
        "userId": account.user_id,
        "userLogin": account.username,
    }
    if outcome.token is not None:
        result["token"] = outcome.token
    return Reply(jsonrpc.result(request.id, result))


def refusal(request: Request) -> Reply:
    """Paynet's answer to credentials it does not accept."""
    return Reply(jsonrpc.error(request.id, jsonrpc.USER_INVALID, "user invalid"))


def presented_token(request: Request, placement: str) -> str | None:
    """The token where the configured placement says it is; elsewhere it counts as missing."""
    if placement == "params":
        source = request.params if isinstance(request.params, dict) else {}
    else:
        source = request.body
    token = source.get("token")
    return token if isinstance(token, str) and token else None


def resource(state: SimulatorState, request: Request) -> Reply:
    """Answer a call to a protected resource: check the token, then run the method."""
    config = state.config
    if not state.authorize(presented_token(request, config.token_placement)):
        return Reply(
            jsonrpc.error(request.id, jsonrpc.UNAUTHORIZED, "unauthorized"),
            status=config.unauthorized_status,
        )
    method = _METHODS.get(request.method)
    if method is None:
        return Reply(jsonrpc.error(request.id, jsonrpc.METHOD_NOT_FOUND, "method not found"))
    params = request.params
    if request.method != "echo" and not isinstance(params, dict):
        return _invalid_params(request)
    return method(state, request, params)


def _invalid_params(request: Request) -> Reply:
    return Reply(jsonrpc.error(request.id, jsonrpc.INVALID_PARAMS, "invalid params"))


def _not_found(request: Request) -> Reply:
    return Reply(jsonrpc.error(request.id, jsonrpc.TRANSACTION_NOT_FOUND, "transaction not found"))


def _found_or_not(request: Request, found: dict[str, Any] | None) -> Reply:
    return Reply(jsonrpc.result(request.id, found)) if found else _not_found(request)


def _echo(state: SimulatorState, request: Request, params: Any) -> Reply:
    if isinstance(params, dict):
        params = {key: value for key, value in params.items() if key != "token"}
    return Reply(jsonrpc.result(request.id, params))


def _valid_agent_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and value != ""


def _perform(state: SimulatorState, request: Request, params: dict[str, Any]) -> Reply:
    agent_id = params.get("id")
    if not _valid_agent_id(agent_id):
        return _invalid_params(request)
    return Reply(jsonrpc.result(request.id, state.perform(agent_id, params.get("amount"))))


def _check_by_agent_id(state: SimulatorState, request: Request, params: dict[str, Any]) -> Reply:
    agent_id = params.get("id")
    if not _valid_agent_id(agent_id):
        return _invalid_params(request)
    return _found_or_not(request, state.by_agent_id(agent_id))


def _check(state: SimulatorState, request: Request, params: dict[str, Any]) -> Reply:
    return _found_or_not(request, state.by_id(params.get("transactionId")))


def _cancel(state: SimulatorState, request: Request, params: dict[str, Any]) -> Reply:
    return _found_or_not(request, state.cancel(params.get("transactionId")))


_Method = Callable[[SimulatorState, Request, Any], Reply]

_METHODS: dict[str, _Method] = {
    "echo": _echo,
    "performTransaction": _perform,
    "checkTransactionByAgentId": _check_by_agent_id,
    "checkTransaction": _check,
    "cancelTransaction": _cancel,
}
