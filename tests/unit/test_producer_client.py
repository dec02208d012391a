"""The producer client without a broker: the kwargs it builds, what it shows, what it rebuilds."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from celery.utils.serialization import create_exception_cls
from paynet_gateway_client import GatewayClient, rebuild
from paynet_gateway_client.errors import (
    IdempotencyConflict,
    InvalidRequest,
    OutcomeUnknown,
    PaynetRpcError,
    ProviderUnavailable,
)
from paynet_gateway_client.handle import GATEWAY_ERRORS
from paynet_gateway_client.kwargs import call_kwargs, payment_params, payment_time, shown

from tests.support.workers import REPO_ROOT
from worker import errors
from worker.calls.reprs import call_repr
from worker.calls.request import parse_call
from worker.ledger.fingerprint import fingerprint

ORDERED_AT = datetime(2025, 11, 26, 17, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5)))
PHONE = "998901234567"


class RecordingApp:
    """Stands in for the Celery app: keeps what ``send_task`` was given."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_task(self, name: str, **options: Any) -> Any:
        self.sent.append({"name": name, **options})
        return type("Result", (), {"id": "task-1"})()


def sent_payment(**overrides: Any) -> dict[str, Any]:
    app = RecordingApp()
    arguments: dict[str, Any] = {
        "agent_id": "order-1842",
        "service_id": 101,
        "fields": {"phone": PHONE},
        "amount": Decimal("15000.50"),
        "ordered_at": ORDERED_AT,
        **overrides,
    }
    GatewayClient(app).perform_transaction(**arguments)  # type: ignore[arg-type]
    return app.sent[0]


def test_a_payment_is_keyed_by_its_agent_id_unless_a_key_is_given() -> None:
    assert sent_payment()["kwargs"]["idempotency_key"] == "order-1842"
    assert sent_payment(agent_id=1842)["kwargs"]["idempotency_key"] == "1842"
    assert sent_payment(idempotency_key="pay-7")["kwargs"]["idempotency_key"] == "pay-7"


def test_a_payment_sends_the_contract_kwargs_as_json_to_the_call_queue() -> None:
    sent = sent_payment()
    assert (sent["name"], sent["queue"], sent["serializer"]) == ("paynet.call", "paynet", "json")
    assert sent["kwargs"] == {
        "method": "performTransaction",
        "params": {
            "id": "order-1842",
            "service_id": 101,
            "time": 1764158400123,  # 12:00:00.123 UTC: the order's time, to the millisecond
            "fields": {"phone": PHONE},
            "amount": Decimal("15000.50"),
        },
        "profile": "default",
        "idempotency_key": "order-1842",
    }
    assert parse_call(sent["kwargs"], {"default"}).idempotency_key == "order-1842"


def test_the_kwargsrepr_names_the_call_and_holds_no_field_amount_or_time() -> None:
    shown = sent_payment()["kwargsrepr"]
    assert "performTransaction" in shown and "order-1842" in shown and "<5 fields>" in shown
    for detail in (PHONE, "15000", "1764158400123", "phone", "amount"):
        assert detail not in shown


def test_the_same_order_sent_twice_is_the_same_request_to_the_ledger() -> None:
    first, later = sent_payment()["kwargs"], sent_payment()["kwargs"]
    assert first == later
    same = [fingerprint("default", "/v2/gw", k["method"], k["params"]) for k in (first, later)]
    assert same[0] == same[1]


def test_the_order_time_is_the_same_instant_in_any_zone_or_as_milliseconds() -> None:
    in_utc = ORDERED_AT.astimezone(UTC)
    assert payment_time(ORDERED_AT) == payment_time(in_utc) == payment_time(1764158400123)


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("amount", 15000.5),
        ("amount", Decimal("NaN")),
        ("amount", Decimal("0")),
        ("amount", Decimal("-1.00")),
        ("ordered_at", datetime(2025, 11, 26, 12, 0)),  # naive: which instant?
        ("ordered_at", -1),
        ("agent_id", ""),
        ("agent_id", True),
        ("service_id", "101"),
        ("fields", {1: PHONE}),
    ],
)
def test_a_wrong_payment_argument_is_refused_before_sending_without_its_value(
    argument: str, value: Any
) -> None:
    app = RecordingApp()
    arguments: dict[str, Any] = {
        "agent_id": "order-1",
        "service_id": 101,
        "fields": {"phone": PHONE},
        "amount": Decimal("1.00"),
        "ordered_at": 1,
        argument: value,
    }
    with pytest.raises(InvalidRequest, match=f"^{argument}: ") as caught:
        GatewayClient(app).perform_transaction(**arguments)
    assert app.sent == []
    assert PHONE not in str(caught.value) and "15000" not in str(caught.value)


def test_a_lookup_goes_without_a_key_and_a_plain_call_passes_its_options() -> None:
    app = RecordingApp()
    client = GatewayClient(app, profile="shop-2", path="/v2/gw/transaction")
    client.check_transaction_by_agent_id("order-1")
    client.call("echo", {"a": 1}, idempotency_key="k-1", profile="default")
    lookup, echo = (sent["kwargs"] for sent in app.sent)
    assert lookup == {
        "method": "checkTransactionByAgentId",
        "params": {"id": "order-1"},
        "profile": "shop-2",
        "path": "/v2/gw/transaction",
    }
    assert echo == call_kwargs(
        "echo", {"a": 1}, idempotency_key="k-1", path="/v2/gw/transaction", profile="default"
    )


def test_payment_params_are_the_ones_paynet_names() -> None:
    params = payment_params(7, 101, {"phone": PHONE}, Decimal("1"), 5)
    assert sorted(params) == ["amount", "fields", "id", "service_id", "time"]


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("PaynetRpcError", (-31000, "insufficient funds", {"balance": 0}), PaynetRpcError),
        ("IdempotencyConflict", ("key 'k' was already used",), IdempotencyConflict),
        ("ProviderUnavailable", ("unreachable",), ProviderUnavailable),
        ("OutcomeUnknown", ("may have executed",), OutcomeUnknown),
    ],
)
def test_a_stand_in_made_by_celery_is_rebuilt_as_the_gateway_class(
    name: str, args: tuple[Any, ...], expected: type[Exception]
) -> None:
    stand_in = create_exception_cls(name, "celery.exceptions")(*args)
    rebuilt = rebuild(stand_in)
    assert type(rebuilt) is expected and rebuilt.args == args


def test_a_rebuilt_rpc_error_carries_code_message_and_data() -> None:
    stand_in = create_exception_cls("PaynetRpcError", "celery.exceptions")(-12007, "nf", None)
    rebuilt = rebuild(stand_in)
    assert isinstance(rebuilt, PaynetRpcError)
    assert (rebuilt.code, rebuilt.message, rebuilt.data) == (-12007, "nf", None)


@pytest.mark.parametrize(
    "failure",
    [
        create_exception_cls("WorkerLostError", "billiard.exceptions")("killed"),
        create_exception_cls("PaynetRpcError", "celery.exceptions")("no code"),
        TimeoutError("the hard time limit"),
    ],
)
def test_a_failure_without_the_gateways_answer_is_an_unknown_outcome(failure: Exception) -> None:
    assert type(rebuild(failure)) is OutcomeUnknown


def test_the_client_loads_no_module_of_the_gateways_server() -> None:
    script = (
        "import sys, paynet_gateway_client\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('worker', 'tasks', 'simulator', 'celeryconfig', 'sqlalchemy', 'pydantic', "
        "'cryptography', 'psycopg2'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert loaded == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "echo", "params": {"a": 1}, "profile": "default"},
        {"method": "m" * 200, "params": {}, "idempotency_key": "k-1", "path": "/api/v2/pay"},
        {"method": "performTransaction", "profile": "acquiring", "idempotency_key": None},
    ],
)
def test_the_client_masks_the_kwargs_as_the_gateway_masks_its_retries(
    kwargs: dict[str, Any],
) -> None:
    assert shown(kwargs) == call_repr(kwargs)


def test_every_class_of_the_contract_can_be_rebuilt() -> None:
    assert sorted(GATEWAY_ERRORS) == sorted(errors.__all__)
