"""The Paynet simulator speaks the protocol, counts what it receives and injects faults.

Real HTTP with requests against a Simulator on an ephemeral loopback port; no mocks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from simulator import (
    DEFAULT_ACCOUNT,
    STATUS_CANCELLED,
    Account,
    Simulator,
    SimulatorControl,
    fingerprint,
)
from simulator.control import SimulatorControlError

USERNAME = DEFAULT_ACCOUNT.username
PASSWORD = DEFAULT_ACCOUNT.password
TERMINAL_ID = 4027096
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def login(
    http: requests.Session,
    sim: Simulator,
    password: str = PASSWORD,
    terminal_id: Any = TERMINAL_ID,
    request_id: Any = 1,
    timeout: float = 5,
) -> requests.Response:
    body = {
        "jsonrpc": "2.0",
        "method": "login",
        "id": request_id,
        "params": {"username": USERNAME, "password": password, "terminal_id": terminal_id},
    }
    return http.post(sim.login_url, json=body, timeout=timeout)


def token_of(http: requests.Session, sim: Simulator) -> str:
    token = login(http, sim).json()["result"]["token"]
    assert isinstance(token, str)
    return token


def call(
    http: requests.Session,
    sim: Simulator,
    method: str,
    params: dict[str, Any] | None = None,
    token: str | None = None,
    request_id: Any = 5,
    placement: str = "top",
    timeout: float = 5,
) -> requests.Response:
    body: dict[str, Any] = {
        "jsonrpc": "2.0",
        "method": method,
        "id": request_id,
        "params": dict(params or {}),
    }
    if token is not None and placement == "top":
        body["token"] = token
    elif token is not None:
        body["params"]["token"] = token
    return http.post(sim.resource_url, json=body, timeout=timeout)


def error_code(response: requests.Response) -> int:
    code = response.json()["error"]["code"]
    assert isinstance(code, int)
    return code


# login


def test_login_with_good_credentials_answers_the_account_and_a_fresh_token(
    sim: Simulator, http: requests.Session
) -> None:
    response = login(http, sim, request_id=77)

    assert response.status_code == 200
    answer = response.json()
    assert answer["jsonrpc"] == "2.0"
    assert answer["id"] == 77
    result = answer["result"]
    assert {k: v for k, v in result.items() if k != "token"} == {
        "agentId": "17627",
        "terminalId": "4027096",
        "userId": 56530,
        "userLogin": USERNAME,
    }
    assert len(result["token"]) == 32
    assert result["token"].isalnum()
    assert sim.issued_tokens() == [result["token"]]


def test_login_accepts_the_terminal_id_as_a_string(sim: Simulator, http: requests.Session) -> None:
    assert "token" in login(http, sim, terminal_id="4027096").json()["result"]


def test_each_login_issues_a_different_token(sim: Simulator, http: requests.Session) -> None:
    assert token_of(http, sim) != token_of(http, sim)


def test_login_with_a_wrong_password_is_refused_as_user_invalid(
    sim: Simulator, http: requests.Session
) -> None:
    response = login(http, sim, password="wrong", request_id=9)

    assert response.status_code == 200
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 9,
        "error": {"code": -10000, "message": "user invalid"},
    }


def test_login_with_a_wrong_terminal_id_is_refused(sim: Simulator, http: requests.Session) -> None:
    assert error_code(login(http, sim, terminal_id=1)) == -10000


def test_every_login_attempt_is_counted_as_succeeded_or_refused(
    sim: Simulator, http: requests.Session
) -> None:
    login(http, sim)
    login(http, sim)
    login(http, sim, password="wrong")

    stats = sim.stats()
    assert (stats["logins_attempted"], stats["logins_succeeded"], stats["logins_refused"]) == (
        3,
        2,
        1,
    )
    assert stats["tokens_issued"] == 2


def test_every_configured_account_can_log_in(http: requests.Session) -> None:
    other = Account("other_user", "other_password", "555", agent_id="1", user_id=2)
    with Simulator(accounts=[DEFAULT_ACCOUNT, other]) as sim:
        body = {
            "jsonrpc": "2.0",
            "method": "login",
            "id": 1,
            "params": {"username": "other_user", "password": "other_password", "terminal_id": 555},
        }
        result = http.post(sim.login_url, json=body, timeout=5).json()["result"]

    assert (result["agentId"], result["terminalId"], result["userId"]) == ("1", "555", 2)


def test_an_account_repr_hides_the_password() -> None:
    assert PASSWORD not in repr(DEFAULT_ACCOUNT)


# tokens


def test_a_call_without_a_token_is_unauthorized(sim: Simulator, http: requests.Session) -> None:
    response = call(http, sim, "echo", request_id=42)

    assert response.status_code == 200
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 42,
        "error": {"code": -9999, "message": "unauthorized"},
    }
    assert sim.stats()["rejections"] == 1


def test_a_call_with_an_unknown_token_is_unauthorized(
    sim: Simulator, http: requests.Session
) -> None:
    assert error_code(call(http, sim, "echo", token="X" * 32)) == -9999


def test_a_valid_token_lets_echo_return_the_params_without_the_token(
    sim: Simulator, http: requests.Session
) -> None:
    token = token_of(http, sim)

    response = call(http, sim, "echo", {"a": 1, "b": ["x"]}, token=token)

    assert response.json() == {"jsonrpc": "2.0", "id": 5, "result": {"a": 1, "b": ["x"]}}


@pytest.mark.parametrize("status", [200, 401, 403, 500])
def test_a_revoked_token_is_rejected_with_the_configured_http_status(
    sim: Simulator, http: requests.Session, status: int
) -> None:
    sim.configure(unauthorized_status=status)
    token = token_of(http, sim)

    assert sim.revoke() == 1
    response = call(http, sim, "echo", token=token)

    assert response.status_code == status
    assert response.json()["error"] == {"code": -9999, "message": "unauthorized"}


def test_tokens_issued_after_a_revoke_are_valid(sim: Simulator, http: requests.Session) -> None:
    token_of(http, sim)
    sim.revoke()

    assert "result" in call(http, sim, "echo", token=token_of(http, sim)).json()


def test_invalidate_on_login_makes_every_older_token_invalid(
    sim: Simulator, http: requests.Session
) -> None:
    sim.configure(invalidate_on_login=True)
    first, second = token_of(http, sim), token_of(http, sim)
    newest = token_of(http, sim)

    assert error_code(call(http, sim, "echo", token=first)) == -9999
    assert error_code(call(http, sim, "echo", token=second)) == -9999
    assert "result" in call(http, sim, "echo", token=newest).json()


def test_older_tokens_stay_valid_after_a_new_login_by_default(
    sim: Simulator, http: requests.Session
) -> None:
    first = token_of(http, sim)
    token_of(http, sim)

    assert "result" in call(http, sim, "echo", token=first).json()


def test_a_token_older_than_token_ttl_is_rejected(sim: Simulator, http: requests.Session) -> None:
    sim.configure(token_ttl=0.2)
    token = token_of(http, sim)
    assert "result" in call(http, sim, "echo", token=token).json()

    time.sleep(0.25)

    assert error_code(call(http, sim, "echo", token=token)) == -9999


def test_token_placement_params_reads_the_token_from_params(
    sim: Simulator, http: requests.Session
) -> None:
    sim.configure(token_placement="params")
    token = token_of(http, sim)

    response = call(http, sim, "echo", {"x": 1}, token=token, placement="params")

    assert response.json()["result"] == {"x": 1}


def test_with_token_placement_params_a_top_level_token_counts_as_missing(
    sim: Simulator, http: requests.Session
) -> None:
    sim.configure(token_placement="params")

    assert error_code(call(http, sim, "echo", token=token_of(http, sim))) == -9999


def test_by_default_a_token_inside_params_counts_as_missing(
    sim: Simulator, http: requests.Session
) -> None:
    token = token_of(http, sim)

    assert error_code(call(http, sim, "echo", token=token, placement="params")) == -9999


# payment methods


TRACED_MEMBERS = {"transactionId", "status", "statusText", "time", "response"}


def assert_traced_record(result: Any) -> None:
    """Paynet's record as the public trace shows it (DESIGN.md), and nothing more."""
    assert set(result) == TRACED_MEMBERS
    assert isinstance(result["transactionId"], int) and not isinstance(
        result["transactionId"], bool
    )
    assert isinstance(result["status"], str) and isinstance(result["statusText"], str)
    assert time.strptime(result["time"], "%Y-%m-%d %H:%M:%S")
    assert isinstance(result["response"], list)


def test_perform_transaction_counts_every_execution_per_agent_id(
    sim: Simulator, http: requests.Session
) -> None:
    token = token_of(http, sim)
    params = {"id": "agent-1", "service_id": 7, "time": "2024-01-01 10:00:00", "fields": {}}

    first = call(http, sim, "performTransaction", {**params, "amount": 500}, token=token).json()
    call(http, sim, "performTransaction", params, token=token)
    call(http, sim, "performTransaction", {**params, "id": 2}, token=token)

    assert_traced_record(first["result"])
    assert first["result"]["transactionId"] == 1
    assert (first["result"]["status"], first["result"]["statusText"]) == ("0", "OK")
    assert sim.stats()["executions"] == {"agent-1": 2, "2": 1}
    assert sim.transaction_ids("agent-1") == [1, 2]
    assert sim.transaction_ids(2) == [3]
    assert sim.transaction_ids("never") == []
    assert sim.amounts("agent-1") == [500, None]  # as received: kept, never answered


def test_every_payment_method_answers_the_traced_record_and_nothing_more(
    sim: Simulator, http: requests.Session
) -> None:
    token = token_of(http, sim)
    performed = call(http, sim, "performTransaction", {"id": "t-1", "amount": 9}, token).json()
    transaction_id = performed["result"]["transactionId"]

    by_agent = call(http, sim, "checkTransactionByAgentId", {"id": "t-1"}, token).json()
    by_id = call(http, sim, "checkTransaction", {"transactionId": transaction_id}, token).json()

    for answer in (performed, by_agent, by_id):
        assert_traced_record(answer["result"])
        assert answer["result"]["status"] == "0"
    assert by_agent["result"] == by_id["result"] == performed["result"]


def test_check_by_agent_id_finds_a_performed_payment(
    sim: Simulator, http: requests.Session
) -> None:
    token = token_of(http, sim)
    performed = call(http, sim, "performTransaction", {"id": 31, "amount": 10}, token=token)

    found = call(http, sim, "checkTransactionByAgentId", {"id": "31"}, token=token).json()

    assert found["result"]["transactionId"] == performed.json()["result"]["transactionId"]
    assert found["result"]["status"] == "0"


def test_check_by_agent_id_of_an_unknown_payment_answers_transaction_not_found(
    sim: Simulator, http: requests.Session
) -> None:
    response = call(http, sim, "checkTransactionByAgentId", {"id": "nope"}, token_of(http, sim))

    assert response.json()["error"] == {"code": -12007, "message": "transaction not found"}


def test_check_transaction_finds_a_payment_by_its_transaction_id(
    sim: Simulator, http: requests.Session
) -> None:
    token = token_of(http, sim)
    call(http, sim, "performTransaction", {"id": "a"}, token=token)
    performed = call(http, sim, "performTransaction", {"id": "b"}, token=token).json()
    transaction_id = performed["result"]["transactionId"]

    found = call(http, sim, "checkTransaction", {"transactionId": transaction_id}, token).json()

    assert found["result"]["transactionId"] == sim.transaction_ids("b")[0] == transaction_id
    assert error_code(call(http, sim, "checkTransaction", {"transactionId": 999}, token)) == -12007


def test_cancel_transaction_marks_the_payment_cancelled_with_a_status_other_than_ok(
    sim: Simulator, http: requests.Session
) -> None:
    token = token_of(http, sim)
    performed = call(http, sim, "performTransaction", {"id": "c"}, token=token).json()
    transaction_id = performed["result"]["transactionId"]

    cancelled = call(http, sim, "cancelTransaction", {"transactionId": transaction_id}, token)

    assert_traced_record(cancelled.json()["result"])
    assert cancelled.json()["result"]["transactionId"] == transaction_id
    assert cancelled.json()["result"]["status"] == STATUS_CANCELLED != "0"
    found = call(http, sim, "checkTransactionByAgentId", {"id": "c"}, token).json()
    assert found["result"]["status"] == STATUS_CANCELLED
    assert found["result"] == cancelled.json()["result"]


def test_cancel_of_an_unknown_transaction_answers_transaction_not_found(
    sim: Simulator, http: requests.Session
) -> None:
    response = call(http, sim, "cancelTransaction", {"transactionId": 12}, token_of(http, sim))

    assert error_code(response) == -12007


def test_an_unknown_method_answers_method_not_found(sim: Simulator, http: requests.Session) -> None:
    response = call(http, sim, "noSuchMethod", token=token_of(http, sim))

    assert response.json()["error"] == {"code": -32601, "message": "method not found"}


def test_invalid_json_answers_a_parse_error_with_http_200(
    sim: Simulator, http: requests.Session
) -> None:
    response = http.post(sim.resource_url, data=b'{"jsonrpc": "2.0", "meth', timeout=5)

    assert response.status_code == 200
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "parse error"},
    }


def test_resources_are_served_at_any_path_under_v2(sim: Simulator, http: requests.Session) -> None:
    body = {"jsonrpc": "2.0", "method": "echo", "id": 1, "params": {}, "token": "t"}

    response = http.post(sim.url + "/v2/other/place", json=body, timeout=5)

    assert error_code(response) == -9999


def test_an_amount_round_trips_with_every_decimal_digit(
    sim: Simulator, http: requests.Session
) -> None:
    token = token_of(http, sim)
    echo = (
        '{"jsonrpc":"2.0","method":"echo","id":2,"token":"TOKEN",'
        '"params":{"amount":12345.67,"a":0.1000000000000000055511151231257827,"b":1E+400,'
        '"c":100.10}}'
    )

    echoed = http.post(sim.resource_url, data=echo.replace("TOKEN", token), timeout=5)
    paid = '{"jsonrpc":"2.0","method":"performTransaction","id":1,"token":"TOKEN",'
    paid += '"params":{"id":"d1","amount":12345.670}}'
    performed = http.post(sim.resource_url, data=paid.replace("TOKEN", token), timeout=5)

    assert "amount" not in performed.json()["result"]
    assert [str(amount) for amount in sim.amounts("d1")] == ["12345.670"]

    assert json.loads(echoed.text, parse_float=Decimal)["result"]["amount"] == Decimal("12345.67")
    assert echoed.text.endswith(
        '"result":{"amount":12345.67,"a":0.1000000000000000055511151231257827,"b":1E+400,'
        '"c":100.10}}'
    )


# faults


def test_fault_down_closes_the_connection_without_an_answer(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault("resource", "down", count=1)

    with pytest.raises(requests.ConnectionError):
        call(http, sim, "echo")
    assert sim.stats()["faults_served"] == 1


def test_fault_down_on_login_issues_no_token(sim: Simulator, http: requests.Session) -> None:
    sim.inject_fault("login", "down")

    with pytest.raises(requests.ConnectionError):
        login(http, sim)
    stats = sim.stats()
    assert (stats["logins_attempted"], stats["tokens_issued"]) == (1, 0)


def test_fault_slow_answers_normally_after_the_delay(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault("login", "slow", count=1, delay=0.3)

    started = time.monotonic()
    response = login(http, sim)

    assert time.monotonic() - started >= 0.3
    assert "token" in response.json()["result"]


def test_fault_slow_makes_a_client_with_a_shorter_timeout_time_out(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault("login", "slow", delay=2)

    with pytest.raises(requests.ReadTimeout):
        login(http, sim, timeout=0.2)


def test_a_reset_drops_a_request_still_paused_so_nothing_lands_in_the_next_counters(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault("login", "slow", count=1, delay=5)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(login, http, sim, timeout=10)
        deadline = time.monotonic() + 5
        while sim.stats()["logins_attempted"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        sim.reset()
        with pytest.raises(requests.ConnectionError):
            pending.result(timeout=10)  # dropped, never answered
    assert sim.stats()["logins_succeeded"] == 0
    assert sim.issued_tokens() == []


def test_fault_http_500_answers_plain_text_internal_server_error(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault("login", "http_500")

    response = login(http, sim)

    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "Internal Server Error"
    assert sim.stats()["tokens_issued"] == 0


@pytest.mark.parametrize(("status", "text"), [(502, "Bad Gateway"), (503, "Service Unavailable")])
def test_fault_http_error_answers_the_given_status(
    sim: Simulator, http: requests.Session, status: int, text: str
) -> None:
    sim.inject_fault("resource", "http_error", status=status)

    response = call(http, sim, "echo")

    assert (response.status_code, response.text) == (status, text)


def test_fault_html_200_answers_an_html_page(sim: Simulator, http: requests.Session) -> None:
    sim.inject_fault("login", "html_200")

    response = login(http, sim)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


def test_fault_truncated_json_answers_the_first_half_of_a_valid_answer(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault("login", "truncated_json", count=1)

    response = login(http, sim)

    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.text)
    assert response.text.startswith('{"jsonrpc":"2.0","id":1,')
    assert int(response.headers["Content-Length"]) == len(response.content)


def test_fault_wrong_id_answers_another_id(sim: Simulator, http: requests.Session) -> None:
    sim.inject_fault("login", "wrong_id")

    answer = login(http, sim, request_id=3).json()

    assert answer["id"] != 3
    assert "token" in answer["result"]


def test_fault_empty_body_answers_200_with_no_content(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault("resource", "empty_body")

    response = call(http, sim, "echo")

    assert (response.status_code, response.headers["Content-Length"], response.content) == (
        200,
        "0",
        b"",
    )


def test_fault_refused_credentials_refuses_good_credentials(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault("login", "refused_credentials")

    assert error_code(login(http, sim)) == -10000
    assert sim.stats()["logins_refused"] == 1


def test_fault_no_token_answers_a_login_result_without_token(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault("login", "no_token")

    result = login(http, sim).json()["result"]

    assert result["userLogin"] == USERNAME
    assert "token" not in result
    assert sim.stats()["tokens_issued"] == 0


def test_fault_execute_then_hang_executes_the_payment_before_the_client_times_out(
    sim: Simulator, http: requests.Session
) -> None:
    token = token_of(http, sim)
    sim.inject_fault("resource", "execute_then_hang", count=1, delay=2)

    with pytest.raises(requests.ReadTimeout):
        call(http, sim, "performTransaction", {"id": "p1"}, token=token, timeout=0.3)

    with requests.Session() as fresh:
        found = call(fresh, sim, "checkTransactionByAgentId", {"id": "p1"}, token=token).json()
    assert found["result"]["status"] == "0"
    assert sim.stats()["executions"] == {"p1": 1}


def test_fault_execute_then_hang_lets_other_methods_through(
    sim: Simulator, http: requests.Session
) -> None:
    token = token_of(http, sim)
    sim.inject_fault("resource", "execute_then_hang", delay=2)

    assert "result" in call(http, sim, "echo", token=token, timeout=1).json()
    assert sim.stats()["faults_served"] == 0


def test_fault_raw_answers_the_given_bytes_status_and_content_type(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault(
        "resource", "raw", body=b'{"jsonrpc":"2.0","id":5}', status=202, content_type="x/y"
    )

    response = call(http, sim, "echo")

    assert (response.status_code, response.headers["Content-Type"]) == (202, "x/y")
    assert response.content == b'{"jsonrpc":"2.0","id":5}'


def test_a_fault_with_a_count_hits_only_that_many_requests(
    sim: Simulator, http: requests.Session
) -> None:
    sim.inject_fault("login", "http_500", count=2)

    statuses = [login(http, sim).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert sim.faults() == []


def test_a_fault_without_count_lasts_until_cleared(sim: Simulator, http: requests.Session) -> None:
    sim.inject_fault("login", "http_500")
    assert [login(http, sim).status_code for _ in range(3)] == [500, 500, 500]

    assert sim.clear_faults() == 1

    assert login(http, sim).status_code == 200
    assert sim.stats()["faults_served"] == 3


def test_faults_are_served_in_the_order_injected(sim: Simulator, http: requests.Session) -> None:
    sim.inject_fault("login", "http_error", count=1, status=502)
    sim.inject_fault("login", "html_200", count=1)

    first, second, third = (login(http, sim) for _ in range(3))

    assert first.status_code == 502
    assert second.headers["Content-Type"].startswith("text/html")
    assert "token" in third.json()["result"]


def test_faults_hit_only_their_target(sim: Simulator, http: requests.Session) -> None:
    sim.inject_fault("resource", "http_500")

    assert "token" in login(http, sim).json()["result"]


@pytest.mark.parametrize(
    ("target", "kind", "extra"),
    [
        ("resource", "refused_credentials", {}),
        ("login", "execute_then_hang", {}),
        ("login", "explode", {}),
        ("both", "down", {}),
        ("login", "down", {"count": 0}),
        ("login", "http_error", {"status": 99}),
    ],
)
def test_an_impossible_fault_is_refused(
    sim: Simulator, target: str, kind: str, extra: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        sim.inject_fault(target, kind, **extra)


def test_latency_settings_delay_answers(sim: Simulator, http: requests.Session) -> None:
    sim.configure(login_latency=0.2, call_latency=0.2)

    started = time.monotonic()
    call(http, sim, "echo", token=token_of(http, sim))

    assert time.monotonic() - started >= 0.4


# control interface


@pytest.fixture
def control(sim: Simulator) -> Iterator[SimulatorControl]:
    with SimulatorControl(sim.url) as client:
        yield client


def test_control_client_injects_and_clears_faults_over_http(
    sim: Simulator, http: requests.Session, control: SimulatorControl
) -> None:
    control.inject_fault("login", "http_error", count=None, status=503)
    assert login(http, sim).status_code == 503
    assert control.faults()[0]["kind"] == "http_error"

    assert control.clear_faults() == 1

    assert login(http, sim).status_code == 200


def test_control_client_sends_a_raw_fault_body_as_bytes(
    sim: Simulator, http: requests.Session, control: SimulatorControl
) -> None:
    control.inject_fault("login", "raw", body=b"\xff\x00not json", content_type="application/json")

    assert login(http, sim).content == b"\xff\x00not json"


def test_control_client_revokes_tokens_over_http(
    sim: Simulator, http: requests.Session, control: SimulatorControl
) -> None:
    token = token_of(http, sim)

    assert control.revoke() == 1

    assert error_code(call(http, sim, "echo", token=token)) == -9999


def test_control_client_configures_settings_over_http(
    sim: Simulator, http: requests.Session, control: SimulatorControl
) -> None:
    settings = control.configure(unauthorized_status=401, invalidate_on_login=True)

    assert settings["unauthorized_status"] == 401
    assert control.config()["invalidate_on_login"] is True
    assert call(http, sim, "echo").status_code == 401


def test_control_client_lists_issued_tokens_over_http(
    sim: Simulator, http: requests.Session, control: SimulatorControl
) -> None:
    tokens = [token_of(http, sim), token_of(http, sim)]

    assert control.issued_tokens() == tokens


def test_control_client_reset_forgets_counters_tokens_faults_and_settings(
    sim: Simulator, http: requests.Session, control: SimulatorControl
) -> None:
    control.configure(unauthorized_status=403)
    call(http, sim, "performTransaction", {"id": 1}, token=token_of(http, sim))
    control.inject_fault("login", "down")

    control.reset()

    stats = control.stats()
    assert (stats["logins_attempted"], stats["calls"], stats["executions"]) == (0, 0, {})
    assert control.issued_tokens() == []
    assert control.faults() == []
    assert control.config()["unauthorized_status"] == 200


def test_control_rejects_an_unknown_setting_with_http_400(
    sim: Simulator, http: requests.Session, control: SimulatorControl
) -> None:
    response = http.post(sim.url + "/_control/config", json={"token_tll": 5}, timeout=5)

    assert response.status_code == 400
    assert "token_tll" in response.json()["error"]
    with pytest.raises(SimulatorControlError):
        control.configure(token_placement="header")


def test_stats_count_calls_by_method_and_token_use_by_fingerprint(
    sim: Simulator, http: requests.Session, control: SimulatorControl
) -> None:
    token = token_of(http, sim)
    call(http, sim, "echo", token=token)
    call(http, sim, "echo", token=token)
    call(http, sim, "performTransaction", {"id": "s"}, token=token)
    call(http, sim, "echo")

    stats = control.stats()

    assert stats["calls"] == 4
    assert stats["calls_by_method"] == {"echo": 3, "performTransaction": 1}
    assert stats["token_use"] == {fingerprint(token): 3}
    assert stats["rejections"] == 1
    assert token not in json.dumps(stats)


# the server itself


def test_a_pooled_session_reuses_one_connection(sim: Simulator, http: requests.Session) -> None:
    token = token_of(http, sim)
    for _ in range(5):
        call(http, sim, "echo", token=token)

    assert sim.stats()["connections"] == 1


def test_64_concurrent_clients_are_answered_in_parallel(sim: Simulator) -> None:
    sim.configure(call_latency=0.3)

    def client(number: int) -> int:
        with requests.Session() as session:
            token = token_of(session, sim)
            response = call(session, sim, "performTransaction", {"id": number}, token=token)
            transaction_id = response.json()["result"]["transactionId"]
            assert isinstance(transaction_id, int)
            return transaction_id

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        transaction_ids = list(pool.map(client, range(64)))

    assert time.monotonic() - started < 5
    assert sorted(transaction_ids) == list(range(1, 65))
    assert len(sim.stats()["executions"]) == 64


def test_stop_cuts_kept_alive_connections_and_start_serves_again_on_the_same_port(
    http: requests.Session,
) -> None:
    sim = Simulator().start()
    try:
        url = sim.url
        token = token_of(http, sim)
        sim.stop()

        with pytest.raises(requests.ConnectionError):
            call(http, sim, "echo", token=token)

        sim.start()
        assert sim.url == url
        assert "result" in call(http, sim, "echo", token=token).json()
    finally:
        sim.stop()


def test_the_simulator_prints_nothing_while_serving(
    sim: Simulator, http: requests.Session, capfd: pytest.CaptureFixture[str]
) -> None:
    token = token_of(http, sim)
    login(http, sim, password="wrong")
    call(http, sim, "echo", token=token)
    http.post(sim.url + "/elsewhere", data=b"x", timeout=5)
    sim.inject_fault("resource", "down", count=1)
    with pytest.raises(requests.ConnectionError):
        call(http, sim, "echo", token=token)

    captured = capfd.readouterr()

    assert (captured.out, captured.err) == ("", "")


def test_python_m_simulator_serves_until_sigterm_without_printing_the_password() -> None:
    password = "cli-secret-password-1"
    env = {**os.environ, "PAYNET_PASSWORD": password}
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--terminal-id", "77"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        url = first_line.split(" listening on ")[1].split()[0]
        with SimulatorControl(url) as control:
            control.wait_until_ready()
            body = {
                "jsonrpc": "2.0",
                "method": "login",
                "id": 1,
                "params": {"username": USERNAME, "password": password, "terminal_id": "77"},
            }
            answer = requests.post(url + "/v2/user", json=body, timeout=5).json()
            token = answer["result"]["token"]
            assert control.stats()["logins_succeeded"] == 1
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0
    assert url.startswith("http://127.0.0.1:")
    output = first_line + out + err
    assert password not in output
    assert token not in output
