"""What Celery's failure line and the task-failed event (Flower) show of a ``PaynetRpcError``:
its code, message and a summary of its data; the result backend keeps the data whole."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from billiard.einfo import ExceptionWithTraceback
from celery import Celery
from celery.app.trace import build_tracer
from celery.utils.serialization import get_pickled_exception
from kombu.utils.encoding import safe_repr

from worker.calls.keyed import hand_back
from worker.errors import PaynetGatewayError, PaynetRpcError
from worker.ledger.policy import Found, found_outcome
from worker.paynet import jsonrpc
from worker.settings import StatusMethod
from worker.summary import summary

PHONE, AMOUNT, CARD = "998901234567", "15000.50", "8600123456789012"
# Paynet's error about a payment, echoing its details.
REFUSED = {
    "transactionId": 7781,
    "status": "3",
    "phone": PHONE,
    "amount": Decimal(AMOUNT),
    "fields": {"card": CARD},
}
# The record of a cancelled transaction, in the traced shape, as reconciliation finds it.
CANCELLED = {
    "transactionId": 7782,
    "status": "3",
    "statusText": "Cancelled",
    "time": "2025-11-26 17:00:00",
    "response": [{"key": "phone", "value": PHONE}, {"key": "amount", "value": AMOUNT}],
}
DETAILS = (PHONE, AMOUNT, "15000.5", CARD, "Cancelled", "phone", "amount", "card")


def shows_no_detail(text: str) -> bool:
    return not [detail for detail in DETAILS if detail in text]


def test_an_errors_data_shows_its_ids_status_and_field_count_but_no_amount_phone_or_value() -> None:
    shown = summary(REFUSED, "data")
    assert shown == "<data: transactionId=7781 status=3, 5 fields>"
    assert shows_no_detail(shown)


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (None, "<data: none>"),
        (f"phone {PHONE} is blocked", "<data: a str>"),
        ([{"phone": PHONE}, {"amount": AMOUNT}], "<data: a list of 2>"),
        ({"status": True, "state": 15000.5, "amount": 15000}, "<data: 3 fields>"),
    ],
)
def test_data_that_is_not_a_record_shows_its_type_or_size_only(data: Any, shown: str) -> None:
    assert summary(data, "data") == shown


def test_a_paynet_error_is_represented_by_its_code_message_and_data_summary() -> None:
    error = PaynetRpcError(-31001, "insufficient funds", REFUSED)
    assert repr(error) == (
        "PaynetRpcError(-31001, 'insufficient funds', "
        "<data: transactionId=7781 status=3, 5 fields>)"
    )
    assert str(error) == "Paynet error -31001: insufficient funds"
    assert error.data == REFUSED  # the producer's view: all of it


def test_a_cancelled_transaction_found_in_reconciliation_shows_its_id_and_status_only() -> None:
    status = StatusMethod(method="checkTransactionByAgentId", failed_statuses=("3",))
    outcome = found_outcome(Found(jsonrpc.RpcResult(CANCELLED), succeeded=False), status)
    with pytest.raises(PaynetRpcError) as caught:
        hand_back(outcome)
    error = caught.value
    assert error.code == -32001 and error.data == CANCELLED
    assert "transactionId=7782 status=3, 5 fields" in repr(error)
    assert "'3'" in str(error)  # the state, in the gateway's own message
    assert shows_no_detail(repr(error)) and shows_no_detail(str(error))


@pytest.fixture
def app() -> Iterator[Celery]:
    """Celery with the gateway's JSON result format and a result store in memory."""
    app = Celery("masking", broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.update(
        result_serializer="json", result_accept_content=["json"], accept_content=["json"]
    )
    yield app
    app.close()


@pytest.mark.parametrize(
    "error",
    [
        PaynetRpcError(-31001, "insufficient funds", REFUSED),
        PaynetRpcError(-32001, "checkTransactionByAgentId reports state '3'", CANCELLED),
    ],
    ids=["paynet's error", "a cancelled transaction found"],
)
def test_celerys_failure_line_and_event_show_the_summary_and_the_backend_keeps_the_data(
    app: Celery, error: PaynetRpcError, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task(name="paynet.call", throws=(PaynetGatewayError,))
    def fails() -> None:
        raise error

    trace = build_tracer("paynet.call", fails, app=app, store_errors=True)
    with caplog.at_level(logging.INFO, logger="celery.app.trace"):
        einfo = trace("task-1", (), {}, {"id": "task-1"}).retval
    (line,) = [r.getMessage() for r in caplog.records if "raised expected" in r.getMessage()]
    assert f"<data: transactionId={error.data['transactionId']} status=3, 5 fields>" in line
    # What a prefork worker's main process sends in task-failed (celery/worker/request.py).
    received = pickle.loads(pickle.dumps(einfo))  # noqa: S301 (from the pool's child)
    exc = received.exception
    exc = exc.exc if isinstance(exc, ExceptionWithTraceback) else exc
    event = {"exception": safe_repr(get_pickled_exception(exc)), "traceback": received.traceback}
    assert "5 fields>" in event["exception"]
    assert f"PaynetRpcError: Paynet error {error.code}" in event["traceback"]
    for text in (line, event["exception"], event["traceback"]):
        assert shows_no_detail(text), text
    stored = app.AsyncResult("task-1").result
    assert type(stored) is PaynetRpcError
    assert stored.args == error.args  # the producer gets code, message and data whole
