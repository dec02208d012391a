"""Task and queue names: the contract producers route by, written here once."""

from __future__ import annotations

from collections.abc import Collection

CALL_TASK = "paynet.call"
REFRESH_TASK = "paynet.refresh_token"
SWEEP_TASK = "paynet.sweep_ledger"  # the workers' own reconciliation of abandoned keys

CALL_QUEUE = "paynet"  # payments: what producers send
WAIT_QUEUE = "paynet.wait"  # calls that wait (for a token, on the ledger): they had their turn
TOKEN_QUEUE = "paynet.token"  # noqa: S105 - a queue name. The refresh task, and nothing else

# Bearer integrations (worker/integrations): one task for all of them, each integration's calls
# on queues of its own, so that one integration's backlog, waits or refreshes never stand in
# front of another's.
INTEGRATION_TASK = "integration.call"
# No integration may take these names: the gateway's queue, and Celery's own queue and exchanges.
RESERVED_NAMES = frozenset({CALL_QUEUE, "celery", "celeryev", "celeryctl", "reply"})


def integration_queues(name: str) -> tuple[str, str, str]:
    """The queues of integration ``name``: its calls, its waiting calls, its token refresh."""
    return name, f"{name}.wait", f"{name}.token"


def token_queue(profile: str, integrations: Collection[str]) -> str:
    """Where the refresh of ``profile``'s token goes: Paynet's token queue, or the
    integration's own."""
    return integration_queues(profile)[2] if profile in integrations else TOKEN_QUEUE
