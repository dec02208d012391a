"""``worker/schema/paynet.call.json`` judged against the gateway's own validation.

Each case is a task's kwargs as they travel (JSON text, typed values in kombu's envelope). The
schema says yes or no; the gateway says yes or no the way a worker does: kombu's JSON decodes
the message, ``parse_call`` judges the kwargs, and a keyed call's params must have a
fingerprint. They must agree, and with what the case expects. The few places where they cannot
agree are listed apart, each with its reason, so that a new one shows up as a failure.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from celery import Celery
from jsonschema import Draft202012Validator
from kombu.utils import json as kombu_json
from paynet_gateway_client.kwargs import call_kwargs, default_key, payment_params

from tests.support.workers import REPO_ROOT
from worker.calls.request import parse_call
from worker.errors import (
    IdempotencyConflict,
    InvalidRequest,
    MalformedResponse,
    OutcomeUnknown,
    PaynetGatewayError,
    PaynetRpcError,
    ProviderUnavailable,
    TokenUnavailable,
)
from worker.ledger.fingerprint import canonical_json
from worker.schema import call_schema

PROFILES = {"default", "shop-2"}
SCHEMA = call_schema()
KWARGS = Draft202012Validator(SCHEMA)
RESULT = Draft202012Validator({**SCHEMA, "$ref": "#/$defs/result"})
PAYMENT_PARAMS = Draft202012Validator({**SCHEMA, "$ref": "#/$defs/performTransactionParams"})


def shipped_agent_ids() -> dict[str, str]:
    """The methods keyed by their agent id in the shipped config.yaml, as the worker reads it."""
    text = (REPO_ROOT / "config.yaml").read_text(encoding="utf-8")
    methods = yaml.safe_load(text)["ledger"]["status_methods"]
    return {name: status["id_param"] for name, status in methods.items()}


AGENT_IDS = shipped_agent_ids()


def gateway_accepts(text: str, profiles: set[str] = PROFILES) -> bool:
    try:
        kwargs = kombu_json.loads(text)
    except Exception:  # an envelope kombu cannot read: the worker cannot even decode the task
        return False
    if not isinstance(kwargs, dict):
        return False
    try:
        request = parse_call(kwargs, profiles, AGENT_IDS)
        if request.idempotency_key is not None:
            canonical_json(request.params)  # what the fingerprint of a keyed call reads
    except (InvalidRequest, ValueError):
        return False
    return True


def schema_accepts(text: str) -> bool:
    return KWARGS.is_valid(json.loads(text))


def dec(value: str) -> dict[str, str]:
    return {"__type__": "decimal", "__value__": value}


def the_clients_payment() -> str:
    params = payment_params("order-1842", 101, {"phone": "998901234567"}, Decimal("15000.50"), 7)
    kwargs = call_kwargs("performTransaction", params, idempotency_key=default_key("order-1842"))
    return str(kombu_json.dumps(kwargs))


def echo(**kwargs: Any) -> dict[str, Any]:
    return {"method": "echo", **kwargs}


def pay(params: Any = None, **kwargs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"method": "performTransaction", **kwargs}
    if params is not None:
        body["params"] = params
    return body


VALID: list[tuple[str, Any]] = [
    ("a method alone", echo()),
    ("params null", echo(params=None)),
    ("every kwarg, the optional ones null", echo(params={}, path=None, idempotency_key=None)),
    ("a profile and a path", echo(profile="shop-2", path="/v2/gw/transaction")),
    ("a method with dots, digits, underscores", {"method": "gw.check_Transaction2"}),
    ("a method of 100 characters", {"method": "m" * 100}),
    ("a path of 200 characters", echo(path="/" + "p" * 199)),
    ("a key of 200 characters", echo(idempotency_key="k" * 200)),
    ("a key in any script, spaces included", echo(idempotency_key="заказ 1842")),
    ("a payment keyed by its string agent id", pay({"id": "order-1", "amount": dec("1.50")})),
    ("a payment keyed by its integer agent id", pay({"id": 1842})),
    ("a payment, key null: keyed by its agent id", pay({"id": "o-2"}, idempotency_key=None)),
    ("an agent id of 200 characters", pay({"id": "i" * 200})),
    ("a payment with a key of its own needs no id", pay({}, idempotency_key="pay-7")),
    ("a lookup by agent id", {"method": "checkTransactionByAgentId", "params": {"id": "o-1"}}),
    ("decimals as kombu writes them", echo(params={"a": [dec("1E+3"), dec("-0.00")]})),
    ("decimals deep in a keyed call", echo(params={"x": {"y": [dec("0.1")]}}, idempotency_key="k")),
    ("an object with __type__ and more keys", echo(params={"o": {"__type__": "x", "b": 1}})),
    ("an object with __type__ alone", echo(params={"o": {"__type__": "decimal"}})),
    ("plain JSON numbers", echo(params={"n": 1.5, "m": -3, "e": 2e10}, idempotency_key="k")),
]

INVALID: list[tuple[str, Any]] = [
    (
        "a datetime in an unkeyed call (kombu decodes it; JSON-RPC cannot carry it)",
        echo(params={"at": {"__type__": "datetime", "__value__": "2025-11-26T12:00:00"}}),
    ),
    ("no method", {}),
    ("kwargs that are not an object", ["echo"]),
    ("an empty method", {"method": ""}),
    ("a method that is not a string", {"method": 5}),
    ("a null method", {"method": None}),
    ("login, the gateway's own", {"method": "login"}),
    ("a method starting with a digit", {"method": "1echo"}),
    ("a method with a space", {"method": "ech o"}),
    ("a method with a trailing newline", {"method": "echo\n"}),
    ("a method of 101 characters", {"method": "m" * 101}),
    ("an unknown kwarg", echo(amount=1)),
    ("the gateway's private wait state", echo(_wait={})),
    ("params a list", echo(params=[])),
    ("params a string", echo(params="a=1")),
    ("params holding a token", echo(params={"token": "t"})),
    ("params that kombu reads as a decimal", echo(params=dec("1"))),
    ("a path without its slash", echo(path="v2/gw")),
    ("a path going up", echo(path="/v2/../admin")),
    ("a path with a trailing newline", echo(path="/v2/gw\n")),
    ("a path with a space", echo(path="/v2/g w")),
    ("a path of 201 characters", echo(path="/" + "p" * 200)),
    ("a path that is not a string", echo(path=5)),
    ("a profile that is not a string", echo(profile=5)),
    ("a null profile", echo(profile=None)),
    ("an empty key", echo(idempotency_key="")),
    ("a key that is not a string", echo(idempotency_key=5)),
    ("a key true", echo(idempotency_key=True)),
    ("a key of 201 characters", echo(idempotency_key="k" * 201)),
    ("a payment without params or key", pay()),
    ("a payment, params null, no key", {"method": "performTransaction", "params": None}),
    ("a payment without an agent id or key", pay({"amount": 1})),
    ("an empty agent id", pay({"id": ""})),
    ("an agent id true", pay({"id": True})),
    ("a null agent id", pay({"id": None})),
    ("an agent id with a fraction", pay({"id": 1.5})),
    ("an agent id that is a list", pay({"id": [1]})),
    ("an agent id of 201 characters", pay({"id": "i" * 201})),
    ("a decimal NaN in a keyed call", echo(params={"a": dec("NaN")}, idempotency_key="k")),
    (
        "a decimal Infinity in a keyed call",
        echo(params={"a": dec("Infinity")}, idempotency_key="k"),
    ),
    ("decimal text kombu cannot read", echo(params={"a": dec("15 000")})),
    (
        "an envelope of a type kombu does not know",
        echo(params={"a": {"__type__": "money", "__value__": "1"}}),
    ),
    (
        "a datetime in a keyed call",
        echo(
            params={"at": {"__type__": "datetime", "__value__": "2025-11-26T12:00:00"}},
            idempotency_key="k",
        ),
    ),
    (
        "a uuid in a keyed call",
        pay(
            {
                "id": "o-1",
                "u": {"__type__": "uuid", "__value__": "6f1c2a8e-7c1e-4a53-9d1e-1f0c2d3e4f50"},
            }
        ),
    ),
]

# Where schema and gateway cannot agree, and why; (case, schema says, gateway says).
GAPS: list[tuple[str, Any, bool, bool]] = [
    (
        "a profile the configuration does not name: no schema can know it",
        echo(profile="shop-9"),
        True,
        False,
    ),
    (
        "an agent id 1.0: JSON Schema counts it an integer, Python reads a float",
        pay({"id": 1.0}),
        True,
        False,
    ),
    (
        "an integer agent id of 201 digits: its length is text's, not the schema's",
        pay({"id": 10**200}),
        True,
        False,
    ),
    (
        "a number beyond a double in a keyed call: Python reads infinity",
        '{"method": "echo", "params": {"n": 1e400}, "idempotency_key": "k"}',
        True,
        False,
    ),
    (
        "decimal text only Python reads (a plus sign, an underscore): write str(Decimal)",
        echo(params={"a": dec("+1_000")}),
        False,
        True,
    ),
    (
        "a decimal envelope around a number: write the digits as text",
        echo(params={"a": {"__type__": "decimal", "__value__": 1}}),
        False,
        True,
    ),
]


def wire(kwargs: Any) -> str:
    """The JSON text of a case; a case given as text is sent as it is."""
    return kwargs if isinstance(kwargs, str) else json.dumps(kwargs)


@pytest.mark.parametrize(("case", "kwargs"), VALID, ids=[case for case, _ in VALID])
def test_the_schema_and_the_gateway_both_accept(case: str, kwargs: Any) -> None:
    assert (schema_accepts(wire(kwargs)), gateway_accepts(wire(kwargs))) == (True, True)


@pytest.mark.parametrize(("case", "kwargs"), INVALID, ids=[case for case, _ in INVALID])
def test_the_schema_and_the_gateway_both_refuse(case: str, kwargs: Any) -> None:
    assert (schema_accepts(wire(kwargs)), gateway_accepts(wire(kwargs))) == (False, False)


@pytest.mark.parametrize(
    ("case", "kwargs", "schema", "gateway"), GAPS, ids=[case for case, *_ in GAPS]
)
def test_where_they_cannot_agree_each_says_what_the_gap_says(
    case: str, kwargs: Any, schema: bool, gateway: bool
) -> None:
    assert (schema_accepts(wire(kwargs)), gateway_accepts(wire(kwargs))) == (schema, gateway)


def test_what_the_client_sends_is_valid_kwargs_with_valid_payment_params() -> None:
    text = the_clients_payment()
    assert schema_accepts(text) and gateway_accepts(text)
    assert PAYMENT_PARAMS.is_valid(json.loads(text)["params"])
    assert json.loads(text)["params"]["amount"] == dec("15000.50")


def test_the_shipped_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    path = REPO_ROOT / "worker" / "schema" / "paynet.call.json"
    assert json.loads(Path(path).read_text(encoding="utf-8")) == SCHEMA


def stored(state: str, value: Any) -> Any:
    """A result document as Celery's JSON backend writes it (values through kombu's JSON)."""
    backend = Celery("schema-test", backend="cache+memory://").backend
    result = backend.prepare_exception(value, "json") if isinstance(value, Exception) else value
    meta = {"status": state, "result": result, "traceback": None, "children": [], "task_id": "t"}
    return json.loads(kombu_json.dumps(meta))


@pytest.mark.parametrize(
    "error",
    [
        PaynetRpcError(-12007, "transaction not found"),
        PaynetRpcError(-31000, "insufficient funds", {"balance": Decimal("0.00")}),
        InvalidRequest("method: required, a non-empty string"),
        TokenUnavailable("the credentials were refused"),
        ProviderUnavailable("Paynet could not be reached"),
        MalformedResponse("not JSON"),
        OutcomeUnknown("may have executed"),
        IdempotencyConflict("key 'k' was already used"),
        PaynetGatewayError("the root"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_each_gateway_error_as_stored_fits_the_result_schema(error: Exception) -> None:
    assert RESULT.is_valid(stored("FAILURE", error))


def test_a_result_a_failure_without_the_gateways_answer_and_a_wait_fit_it() -> None:
    paid = {"transactionId": 1, "status": "0", "response": [{"amount": Decimal("1.50")}]}
    assert RESULT.is_valid(stored("SUCCESS", paid))
    assert RESULT.is_valid(stored("FAILURE", TimeoutError("hard time limit")))
    assert RESULT.is_valid(stored("RETRY", None))


@pytest.mark.parametrize(
    "document",
    [
        {
            "status": "FAILURE",
            "result": {
                "exc_type": "PaynetRpcError",
                "exc_module": "worker.errors",
                "exc_message": ["-1", "m", None],
            },
        },
        {
            "status": "FAILURE",
            "result": {
                "exc_type": "OutcomeUnknown",
                "exc_module": "worker.errors",
                "exc_message": [1],
            },
        },
        {"status": "SUCCESS"},
        {"status": "DONE", "result": 1},
    ],
)
def test_a_result_document_out_of_shape_does_not_fit(document: Any) -> None:
    assert not RESULT.is_valid(document)
