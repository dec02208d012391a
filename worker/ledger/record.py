"""A key's ledger row as plain values, and its states: the policy decides on these.

States::

    received ──claim──▶ sent ──answer, or status: found──▶ succeeded | failed
       ▲  │              │ └── no definite answer in time ──▶ unknown ──operator──▶ ...
       │  └── sent MAX_SENDS times, each shown not executed ──▶ failed (not executed)
       └── nothing was sent (-9999, connection refused), or status: not found
           once Paynet's processing window has passed

An operator may settle any row that has no outcome yet (received, sent, unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from worker.ledger.fingerprint import Fingerprint
from worker.paynet import jsonrpc


class State(StrEnum):
    RECEIVED = "received"  # known; nothing is at Paynet (or it was shown not to be)
    SENT = "sent"  # claimed by a sender: at Paynet, or in doubt and being reconciled
    SUCCEEDED = "succeeded"  # Paynet answered a result (or reconciliation found it)
    FAILED = "failed"  # Paynet answered an error other than unauthorized
    UNKNOWN = "unknown"  # whether it executed could not be told: final, for an operator


FINISHED = frozenset({State.SUCCEEDED, State.FAILED})
IN_DOUBT = frozenset({State.SENT, State.UNKNOWN})
UNSETTLED = frozenset({State.RECEIVED, State.SENT, State.UNKNOWN})  # no outcome yet


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
    check_after: datetime | None = None  # no reconciling before (the sender's lease)
    finished_at: datetime | None = None
    seen_at: datetime | None = None  # the database's time when this row was read
    settled_by: str | None = None  # "operator" where an operator decided the outcome
    agent_id: str | None = None  # the payment's own id, which its status call looks up
    releases: int = 0  # claims released because nothing was sent

    @property
    def sends(self) -> int:
        """Claims whose request may have reached Paynet (every claim but the released ones)."""
        return self.attempts - self.releases

    @property
    def now(self) -> datetime:
        """The database's time when the row was read: the one clock of ledger decisions."""
        return self.seen_at or self.updated_at
