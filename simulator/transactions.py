"""Payments the simulated Paynet has executed, so tests can count duplicates."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

STATE_SUCCESS = 1
STATE_CANCELLED = -2


@dataclass
class Transaction:
    """One executed payment as Paynet would report it."""

    transaction_id: int
    agent_transaction_id: Any
    amount: Any
    state: int = STATE_SUCCESS

    def as_result(self) -> dict[str, Any]:
        """The JSON-RPC result describing this payment."""
        return {
            "transactionId": self.transaction_id,
            "agentTransactionId": self.agent_transaction_id,
            "state": self.state,
            "amount": self.amount,
        }


def agent_key(agent_id: Any) -> str:
    """Agent ids arrive as str or int; 42 and "42" name the same payment."""
    return str(agent_id)


class TransactionBook:
    """Executed payments and per-agent-id execution counts. Not thread-safe on its own."""

    def __init__(self) -> None:
        self._by_id: dict[int, Transaction] = {}
        self._by_agent: dict[str, Transaction] = {}
        self._executions: Counter[str] = Counter()
        self._next_id = 1

    def perform(self, agent_id: Any, amount: Any) -> Transaction:
        """Execute a payment; every call counts, duplicates included, so tests can see them."""
        transaction = Transaction(self._next_id, agent_id, amount)
        self._next_id += 1
        self._by_id[transaction.transaction_id] = transaction
        self._by_agent[agent_key(agent_id)] = transaction
        self._executions[agent_key(agent_id)] += 1
        return transaction

    def by_agent_id(self, agent_id: Any) -> Transaction | None:
        """The latest payment executed under the agent's own id."""
        return self._by_agent.get(agent_key(agent_id))

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
            transaction.state = STATE_CANCELLED
        return transaction

    def executions(self) -> dict[str, int]:
        """How many times each agent id was executed."""
        return dict(self._executions)

    def __len__(self) -> int:
        return len(self._by_id)
