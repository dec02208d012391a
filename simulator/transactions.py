"""Payments the simulated Paynet has executed, so tests can count duplicates.

A payment is answered as the public trace shows Paynet's record (DESIGN.md, "What is known of the
Paynet agent API"): ``transactionId`` (an int), ``status`` ``"0"`` with ``statusText`` ``"OK"``,
``time`` and ``response`` (a list); nothing more. The agent's own id and the amount received
are kept only inside the book, for the counters and checks tests make; no answer carries them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATUS_OK = "0"  # traced: the status of an executed transaction
STATUS_TEXT_OK = "OK"
# Not traced: what Paynet answers for a cancelled transaction is unknown. The simulator's own
# choice, any status but "0", so a gateway configured to call it failed can be tested.
STATUS_CANCELLED = "-2"
STATUS_TEXT_CANCELLED = "Cancelled"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class Transaction:
    """One executed payment: Paynet's record of it, and the agent id it was executed under."""

    transaction_id: int
    agent_id: str  # internal: the book's index, never answered
    time: str
    amount: Any = None  # internal: as received, so tests see it arrived exact; never answered
    status: str = STATUS_OK
    status_text: str = STATUS_TEXT_OK
    response: list[Any] = field(default_factory=list)

    def as_result(self) -> dict[str, Any]:
        """The JSON-RPC result describing this payment, in the traced shape."""
        return {
            "transactionId": self.transaction_id,
            "status": self.status,
            "statusText": self.status_text,
            "time": self.time,
            "response": list(self.response),
        }


def agent_key(agent_id: Any) -> str:
    """Agent ids arrive as str or int; 42 and "42" name the same payment."""
    return str(agent_id)


class TransactionBook:
    """Executed payments and per-agent-id execution counts. Not thread-safe on its own."""

    def __init__(self, now: Callable[[], datetime] = datetime.now) -> None:
        self._now = now
        self._by_id: dict[int, Transaction] = {}
        self._by_agent: dict[str, list[Transaction]] = {}
        self._executions: Counter[str] = Counter()
        self._next_id = 1

    def perform(self, agent_id: Any, amount: Any = None) -> Transaction:
        """Execute a payment; every call counts, duplicates included, so tests can see them."""
        key = agent_key(agent_id)
        now = self._now().strftime(TIME_FORMAT)
        transaction = Transaction(self._next_id, key, now, amount)
        self._next_id += 1
        self._by_id[transaction.transaction_id] = transaction
        self._by_agent.setdefault(key, []).append(transaction)
        self._executions[key] += 1
        return transaction

    def by_agent_id(self, agent_id: Any) -> Transaction | None:
        """The latest payment executed under the agent's own id."""
        executed = self._by_agent.get(agent_key(agent_id))
        return executed[-1] if executed else None

    def executed(self, agent_id: Any) -> list[Transaction]:
        """Every payment executed under the agent's own id, oldest first."""
        return list(self._by_agent.get(agent_key(agent_id), []))

    def by_id(self, transaction_id: Any) -> Transaction | None:
        """A payment by Paynet's transaction id (int or numeric string)."""
        try:
            key = int(transaction_id)
        except (TypeError, ValueError):
            return None
        return self._by_id.get(key)

    def cancel(self, transaction_id: Any) -> Transaction | None:
        """Mark a payment cancelled; None if there is no such payment."""
        transaction = self.by_id(transaction_id)
        if transaction is not None:
            transaction.status = STATUS_CANCELLED
            transaction.status_text = STATUS_TEXT_CANCELLED
        return transaction

    def executions(self) -> dict[str, int]:
        """How many times each agent id was executed."""
        return dict(self._executions)

    def __len__(self) -> int:
        return len(self._by_id)
