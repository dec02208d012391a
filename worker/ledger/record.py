"""A key's ledger row as plain values, and its states: the policy decides on these.

States::

    received ──claim──▶ sent ──answer──▶ succeeded | failed
       ▲                 │ └──no answer──▶ unknown ──status: found──▶ succeeded
       └──── nothing was sent (-9999, connection refused) / status: not found ◀┘
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from worker.ledger.fingerprint import Fingerprint
from worker.paynet import jsonrpc


class State(StrEnum):
    RECEIVED = "received"  # known; nothing is at Paynet (or it was shown not to be)
    SENT = "sent"  # claimed by a sender, who may be talking to Paynet right now
    SUCCEEDED = "succeeded"  # Paynet answered a result (or reconciliation found it)
    FAILED = "failed"  # Paynet answered an error other than unauthorized
    UNKNOWN = "unknown"  # sent, and whether it executed is not known (yet)


FINISHED = frozenset({State.SUCCEEDED, State.FAILED})
IN_DOUBT = frozenset({State.SENT, State.UNKNOWN})


@dataclass(frozen=True)
class LedgerRecord:
    key: str
    fingerprint: Fingerprint
    state: State
    outcome: jsonrpc.Answer | None
    detail: str | None
    attempts: int
    owner: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    check_after: datetime | None = None
    finished_at: datetime | None = None
