"""Task and queue names: the contract producers route by, written here once."""

from __future__ import annotations

CALL_TASK = "paynet.call"
REFRESH_TASK = "paynet.refresh_token"
SWEEP_TASK = "paynet.sweep_ledger"  # the workers' own reconciliation of abandoned keys

CALL_QUEUE = "paynet"  # payments: what producers send
WAIT_QUEUE = "paynet.wait"  # calls that wait (for a token, on the ledger): they had their turn
TOKEN_QUEUE = "paynet.token"  # noqa: S105 - a queue name. The refresh task, and nothing else
