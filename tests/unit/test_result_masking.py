"""What Celery's "succeeded" line and Flower show of a result: a summary, no fields or amounts."""

from __future__ import annotations

from decimal import Decimal

from celery.app import trace

from worker import masking
from worker.calls.reprs import result_summary

PAYMENT = {  # Paynet's record as the trace shows it, and a response holding payment details
    "transactionId": 9001,
    "status": "0",
    "statusText": "OK",
    "time": "2026-11-27 12:00:00",
    "response": [{"phone": "998901234567", "amount": Decimal("15000.00")}],
}


def test_a_payment_result_shows_its_transaction_id_and_status_and_only_counts_the_rest() -> None:
    summary = result_summary(PAYMENT)
    assert summary == "<result: transactionId=9001 status=0, 5 fields>"
    assert "15000" not in summary
    assert "998901234567" not in summary


def test_members_the_trace_does_not_show_are_not_shown_even_when_they_look_like_ids() -> None:
    untraced = {"transactionId": 1, "agentTransactionId": "order-7", "state": 1, "amount": 5}
    assert result_summary(untraced) == "<result: transactionId=1, 4 fields>"


def test_lists_and_scalars_show_their_type_only() -> None:
    assert result_summary([{"phone": "998901234567"}] * 3) == "<result: a list of 3>"
    assert result_summary(Decimal("15000.00")) == "<result: a Decimal>"
    assert result_summary(None) == "<result: none>"
    assert "15000" not in result_summary({"status": 15000.5, "amount": 15000})


def test_celery_represents_the_marked_result_by_its_summary_and_everything_else_as_before() -> None:
    masking.install()
    masking.install()  # idempotent: a second install does not wrap twice
    marked = masking.mark(dict(PAYMENT))
    assert trace.saferepr(marked, 1024) == result_summary(PAYMENT)
    assert trace.saferepr({"a": 1}, 1024) == "{'a': 1}"
    assert "998901234567" in trace.saferepr(dict(PAYMENT), 1024)  # not marked: Celery's own
