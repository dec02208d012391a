"""The ledger's decisions, from plain values: what to do with a key, what an answer means."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from worker.calls.waits import ledger_wait_from_kwargs
from worker.core.causes import Cause
from worker.ledger.fingerprint import Fingerprint, canonical_json, fingerprint
from worker.ledger.policy import (
    MAX_SENDS,
    NOT_SENT_AGAIN,
    NOT_SUCCEEDED,
    POLL_MAX,
    SETTLED_NOT_EXECUTED,
    Conflict,
    Exhausted,
    Found,
    Hold,
    Inconclusive,
    LedgerWait,
    NotFound,
    Reconcile,
    Recorded,
    Reopen,
    Send,
    Settle,
    Unresolved,
    after_status,
    decide_key,
    found_outcome,
    judge_status,
    operator_outcome,
    status_params,
)
from worker.ledger.record import LedgerRecord, State
from worker.paynet import jsonrpc
from worker.paynet.failures import HttpMalformed, TransportFailure
from worker.paynet.verdicts import Answered, Exchange, InDoubt, NotSent, Rejected, judge_send
from worker.settings import LedgerSettings, StatusMethod

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PRINT = Fingerprint("default", "/v2/gw/transaction", "performTransaction", "ab" * 32)
# Paynet's record of an executed payment, as the public trace shows every payment method answer
RECORD = {
    "transactionId": 1,
    "status": "0",
    "statusText": "OK",
    "time": "2026-11-27 17:00:00",
    "response": [],
}
RESULT = jsonrpc.RpcResult(RECORD)
ERROR = jsonrpc.RpcError(-31001, "insufficient funds")
STATUS = StatusMethod(method="checkTransactionByAgentId", id_param="id", not_found_codes=(-12007,))
UNAUTHORIZED = (-9999,)


def row(state: State, check_in: float | None = None, **changes: Any) -> LedgerRecord:
    record = LedgerRecord(
        key="order-1",
        fingerprint=PRINT,
        state=state,
        outcome=None,
        detail=None,
        attempts=0 if state is State.RECEIVED else 1,
        owner=None if state is State.RECEIVED else "task:nonce",
        created_at=NOW - timedelta(seconds=60),
        updated_at=NOW - timedelta(seconds=1),
        sent_at=None if state is State.RECEIVED else NOW - timedelta(seconds=1),
        check_after=None if check_in is None else NOW + timedelta(seconds=check_in),
        seen_at=NOW,
    )
    return replace(record, **changes)


@pytest.mark.parametrize(
    ("record", "reconcilable", "expected"),
    [
        (row(State.RECEIVED), True, Send),
        (row(State.SUCCEEDED, outcome=RESULT), True, Recorded),
        (row(State.FAILED, outcome=ERROR), False, Recorded),
        (row(State.SENT, check_in=10), True, Hold),
        (row(State.SENT, check_in=10), False, Hold),
        (row(State.SENT, check_in=-1), True, Reconcile),
        (row(State.SENT, check_in=-1), False, Unresolved),
        (row(State.SENT, check_in=0.5, detail="no answer"), True, Hold),
        (row(State.UNKNOWN, check_in=0.5), True, Unresolved),  # unknown is final: never sent
        (row(State.UNKNOWN, check_in=-1), True, Unresolved),
        (row(State.UNKNOWN, check_in=-1), False, Unresolved),
        (row(State.SUCCEEDED), True, Unresolved),  # finished without an outcome: never a guess
        (row(State.RECEIVED, attempts=MAX_SENDS - 1), True, Send),
        # sent that often, each time shown not executed: a worker dies on it each time
        (row(State.RECEIVED, attempts=MAX_SENDS), True, Exhausted),
        # claims released because nothing was sent do not count: it can always be sent again
        (row(State.RECEIVED, attempts=MAX_SENDS + 12, releases=13), True, Send),
    ],
)
def test_each_state_of_a_key_leads_to_its_step(
    record: LedgerRecord, reconcilable: bool, expected: type
) -> None:
    assert isinstance(decide_key(record, PRINT, reconcilable), expected)


def test_a_key_given_up_after_its_sends_is_a_failure_that_did_not_execute() -> None:
    step = decide_key(row(State.RECEIVED, attempts=MAX_SENDS + 2, releases=2), PRINT, True)

    assert isinstance(step, Exhausted)
    assert step.outcome.code == NOT_SENT_AGAIN
    assert "not executed" in step.outcome.message and "new idempotency key" in step.outcome.message


def test_a_finished_key_hands_back_its_recorded_outcome() -> None:
    assert decide_key(row(State.SUCCEEDED, outcome=RESULT), PRINT, True) == Recorded(RESULT)


@pytest.mark.parametrize(
    ("other", "named"),
    [
        (replace(PRINT, params_sha256="cd" * 32), ("params",)),
        (replace(PRINT, method="cancelTransaction"), ("method",)),
        (replace(PRINT, profile="other", path="/v2/other"), ("profile", "path")),
    ],
)
def test_the_same_key_with_another_request_is_a_conflict_whatever_its_state(
    other: Fingerprint, named: tuple[str, ...]
) -> None:
    for state in State:
        assert decide_key(row(state, outcome=RESULT), other, True) == Conflict(named)


def test_waiting_for_another_sender_polls_more_slowly_each_time_but_within_the_cap() -> None:
    record = row(State.SENT, check_in=30)
    countdowns = []
    wait = None
    for _ in range(8):
        step = decide_key(record, PRINT, True, wait)
        assert isinstance(step, Hold)
        countdowns.append(step.countdown)
        wait = step.wait
    assert countdowns == sorted(countdowns)
    assert countdowns[0] < 0.5
    assert max(countdowns) == POLL_MAX
    assert wait is not None and wait.polls == 8


def test_a_settling_key_is_looked_at_no_later_than_its_mark() -> None:
    settling = row(State.SENT, check_in=0.3, detail="no answer")
    step = decide_key(settling, PRINT, True, LedgerWait(polls=9))
    assert isinstance(step, Hold)
    assert step.countdown == pytest.approx(0.3)


def test_the_lease_is_read_in_the_databases_time_not_the_hosts() -> None:
    # The row was read at NOW by the database; whatever a host's clock says, the lease holds.
    live = row(State.SENT, check_in=5, seen_at=NOW)
    assert isinstance(decide_key(live, PRINT, True), Hold)
    assert isinstance(
        decide_key(replace(live, seen_at=NOW + timedelta(seconds=6)), PRINT, True), Reconcile
    )


def test_giving_up_without_a_status_method_names_the_method() -> None:
    step = decide_key(row(State.SENT, check_in=-1, detail="no answer"), PRINT, False)
    assert isinstance(step, Unresolved)
    assert "performTransaction has no status method" in step.reason


@pytest.mark.parametrize(
    ("exchange", "verdict"),
    [
        (RESULT, Answered),
        (ERROR, Answered),
        (jsonrpc.RpcError(-9999, "unauthorized"), Rejected),
        (TransportFailure(Cause.UNREACHABLE, "connection refused", maybe_sent=False), NotSent),
        (TransportFailure(Cause.TIMEOUT, "connect timeout", maybe_sent=False), NotSent),
        (TransportFailure(Cause.TIMEOUT, "read timeout", maybe_sent=True), InDoubt),
        (TransportFailure(Cause.UNREACHABLE, "connection lost", maybe_sent=True), InDoubt),
        (HttpMalformed(200, "not JSON"), InDoubt),
        (HttpMalformed(502, "not JSON"), InDoubt),
        (HttpMalformed(200, "wrong id"), InDoubt),
    ],
)
def test_only_a_well_formed_answer_is_an_outcome(exchange: Exchange, verdict: type) -> None:
    assert isinstance(judge_send(exchange, UNAUTHORIZED), verdict)


@pytest.mark.parametrize(
    ("exchange", "verdict"),
    [
        (RESULT, Found),
        (jsonrpc.RpcResult(None), Inconclusive),
        (jsonrpc.RpcError(-12007, "transaction not found"), NotFound),
        (jsonrpc.RpcError(-9999, "unauthorized"), Rejected),
        (jsonrpc.RpcError(-32603, "internal error"), Inconclusive),
        (TransportFailure(Cause.TIMEOUT, "read timeout", maybe_sent=True), Inconclusive),
        (HttpMalformed(503, "not JSON"), Inconclusive),
    ],
)
def test_a_status_call_says_found_not_found_or_cannot_tell(
    exchange: Exchange, verdict: type
) -> None:
    assert isinstance(judge_status(exchange, STATUS, UNAUTHORIZED), verdict)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"id": "order-1", "amount": 5}, {"id": "order-1"}),
        ({"id": 42}, {"id": 42}),
        ({"amount": 5}, None),
        ({"id": ""}, None),
        ({"id": None}, None),
        ({"id": True}, None),
    ],
)
def test_the_status_call_asks_by_the_payments_own_id(
    params: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    assert status_params(params, STATUS) == expected


WINDOW = STATUS.model_copy(update={"max_processing": 60})


def sent_ago(seconds: float) -> LedgerRecord:
    """A key in doubt whose last send was ``seconds`` ago, in the database's time."""
    return row(State.SENT, check_in=-1, sent_at=NOW - timedelta(seconds=seconds))


def test_found_settles_at_once_in_the_processing_window_or_after_it() -> None:
    for ago in (1, 600):
        step = after_status(Found(RESULT, True), sent_ago(ago), WINDOW, LedgerSettings())
        assert step == Settle(RESULT)


def status_of(value: Any) -> jsonrpc.RpcResult:
    return jsonrpc.RpcResult({**RECORD, "status": value})


def without(member: str) -> jsonrpc.RpcResult:
    return jsonrpc.RpcResult({k: v for k, v in RECORD.items() if k != member})


JUDGING = STATUS.model_copy(update={"failed_statuses": ("-2", "5"), "in_progress_statuses": ("1",)})


@pytest.mark.parametrize(
    ("answer", "settings", "succeeded"),
    [
        (RESULT, STATUS, True),  # the traced record with the shipped defaults
        (status_of(0), STATUS, True),  # an integer counts as its decimal text
        (status_of("-2"), JUDGING, False),
        (status_of(5), JUDGING, False),
        (status_of("0"), JUDGING, True),
    ],
)
def test_a_found_transaction_is_judged_by_the_status_the_settings_list(
    answer: jsonrpc.RpcResult, settings: StatusMethod, succeeded: bool
) -> None:
    assert judge_status(answer, settings, UNAUTHORIZED) == Found(answer, succeeded)


@pytest.mark.parametrize(
    ("answer", "settings", "said"),
    [
        (status_of("-2"), STATUS, "'-2', a status no setting gives a meaning"),
        (status_of("1"), JUDGING, "in progress (status '1')"),
        (status_of("7"), JUDGING, "status '7', a status no setting gives a meaning"),
        (status_of(True), STATUS, "status a bool"),  # true/false is never a status
        (status_of(False), JUDGING, "status a bool"),
        (status_of(None), STATUS, "status a NoneType"),
        (status_of(Decimal("0.0")), STATUS, "status a Decimal"),
        (status_of({"code": "0"}), STATUS, "status a dict"),
        (status_of("0" * 50), STATUS, "status a str"),  # never quotes a long value
        (status_of(" 0"), STATUS, "status ' 0'"),  # compared exactly
        (without("status"), STATUS, "without 'status'"),
        (jsonrpc.RpcResult({"transactionId": 1, "state": 1}), STATUS, "without 'status'"),
        (jsonrpc.RpcResult([RECORD]), STATUS, "not a transaction"),
        (jsonrpc.RpcResult("0"), STATUS, "not a transaction"),
        (jsonrpc.RpcResult(None), STATUS, "not a transaction"),
    ],
)
def test_a_found_transaction_the_settings_cannot_judge_is_inconclusive_never_a_guess(
    answer: jsonrpc.RpcResult, settings: StatusMethod, said: str
) -> None:
    verdict = judge_status(answer, settings, UNAUTHORIZED)
    assert isinstance(verdict, Inconclusive)
    assert said in verdict.detail


def test_a_transaction_found_in_a_failed_status_is_recorded_as_a_failure_naming_it() -> None:
    cancelled = status_of("-2")
    step = after_status(Found(cancelled, False), sent_ago(1), JUDGING, LedgerSettings())
    assert isinstance(step, Settle) and isinstance(step.outcome, jsonrpc.RpcError)
    assert step.outcome.code == NOT_SUCCEEDED
    assert "status '-2'" in step.outcome.message and step.outcome.data == cancelled.value


def test_a_transaction_found_in_a_succeeded_status_settles_with_paynets_record_as_its_result() -> (
    None
):
    found = judge_status(RESULT, STATUS, UNAUTHORIZED)
    assert isinstance(found, Found)
    assert found_outcome(found, STATUS) == RESULT  # what performTransaction itself answers


@pytest.mark.parametrize("answer", [status_of("1"), status_of("9"), without("status")])
def test_a_status_that_cannot_be_judged_is_asked_again_then_left_unknown_after_the_window(
    answer: jsonrpc.RpcResult,
) -> None:
    policy = LedgerSettings(reconcile_timeout=10)
    verdict = judge_status(answer, JUDGING, UNAUTHORIZED)
    assert isinstance(verdict, Inconclusive)
    for ago in (1, 30, 69.5):  # in the processing window (60 s) and the reconcile timeout
        assert isinstance(after_status(verdict, sent_ago(ago), WINDOW, policy), Hold)
    gave_up = after_status(verdict, sent_ago(70), WINDOW, policy)
    assert isinstance(gave_up, Unresolved) and verdict.detail in gave_up.reason


def test_not_found_within_the_processing_window_is_asked_again_never_sent_again() -> None:
    step = after_status(NotFound("-12007"), sent_ago(59), WINDOW, LedgerSettings(), rand=1.0)
    assert isinstance(step, Hold)
    assert step.countdown == pytest.approx(0.5)  # backoff, then the rest of the window
    assert step.wait.checks == 1
    close = after_status(NotFound("-12007"), sent_ago(59.8), WINDOW, LedgerSettings(), rand=1.0)
    assert isinstance(close, Hold) and close.countdown == pytest.approx(0.2)


def test_not_found_once_the_processing_window_passed_sends_it_again() -> None:
    assert after_status(NotFound("-12007"), sent_ago(60), WINDOW, LedgerSettings()) == Reopen()


def test_a_status_that_cannot_tell_is_asked_until_the_reconcile_timeout_after_the_window() -> None:
    policy = LedgerSettings(reconcile_timeout=10)
    unclear = Inconclusive("-32603 internal error")
    assert isinstance(after_status(unclear, sent_ago(65), WINDOW, policy), Hold)
    last = after_status(unclear, sent_ago(69.5), WINDOW, policy, rand=1.0)
    assert isinstance(last, Hold) and last.countdown == pytest.approx(0.5)
    gave_up = after_status(unclear, sent_ago(70), WINDOW, policy)
    assert isinstance(gave_up, Unresolved) and "-32603" in gave_up.reason


def test_an_operators_decision_is_handed_back_to_every_resubmission() -> None:
    executed = operator_outcome("tx-9", None)
    assert executed == jsonrpc.RpcResult({"transactionId": "tx-9", "settledBy": "operator"})
    not_executed = operator_outcome(None, "refunded by phone")
    assert isinstance(not_executed, jsonrpc.RpcError)
    assert not_executed.code == SETTLED_NOT_EXECUTED
    assert (
        "refunded by phone" in not_executed.message
        and "new idempotency key" in not_executed.message
    )


def test_the_ledger_wait_survives_the_task_kwargs_and_refuses_anything_else() -> None:
    wait = LedgerWait(polls=3, checks=2)
    assert ledger_wait_from_kwargs(asdict(wait)) == wait
    assert ledger_wait_from_kwargs(None) is None
    for bad in (
        {"polls": 1},
        {"polls": "1", "checks": 0},
        {"polls": 1, "checks": 0, "first_check": 12.5},
        [1, 2],
    ):
        with pytest.raises(ValueError):
            ledger_wait_from_kwargs(bad)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        ({"amount": 100}, {"amount": Decimal("100.00")}),
        ({"amount": 1.5}, {"amount": Decimal("1.50")}),
        ({"n": [1, {"y": 2, "x": 1}]}, {"n": [1, {"x": 1, "y": 2}]}),
    ],
)
def test_params_that_mean_the_same_have_the_same_fingerprint(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    assert canonical_json(one) == canonical_json(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"amount": 100}, {"amount": 101}),
        ({"flag": True}, {"flag": 1}),
        ({"id": "1"}, {"id": 1}),
        ({"a": None}, {}),
        ({"list": [1, 2]}, {"list": [2, 1]}),
    ],
)
def test_params_that_differ_in_meaning_have_different_fingerprints(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    assert canonical_json(one) != canonical_json(other)


def test_the_fingerprint_takes_the_default_path_and_refuses_what_json_cannot_carry() -> None:
    made = fingerprint("default", "/v2/gw/transaction", "performTransaction", {"id": "x"})
    assert made.path == "/v2/gw/transaction"
    with pytest.raises(ValueError):
        fingerprint("default", "/", "performTransaction", {"amount": float("nan")})
    with pytest.raises(ValueError):
        fingerprint("default", "/", "performTransaction", {"when": NOW})
