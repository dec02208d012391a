"""Everything the simulator remembers, behind one lock, with the counters tests assert on."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .accounts import DEFAULT_ACCOUNT, Account
from .config import Config
from .faults import Fault, FaultBoard
from .tokens import TokenRegistry, fingerprint
from .transactions import TransactionBook

RECENT = 1000  # requests remembered for their trace context


@dataclass(frozen=True)
class LoginOutcome:
    """The account a login matched (None: refused) and the token issued for it, if any."""

    account: Account | None
    token: str | None = None


class SimulatorState:
    """Accounts, tokens, payments, faults, settings and counters; safe to share across threads.

    No method sleeps or does I/O while holding the lock, so 64 handler threads never queue on it
    for long.
    """

    def __init__(
        self,
        accounts: Iterable[Account] | None = None,
        config: Config | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._accounts = list(accounts) if accounts is not None else [DEFAULT_ACCOUNT]
        if not self._accounts:
            raise ValueError("the simulator needs at least one account")
        self._initial_config = config or Config()
        self._clock = clock
        self._fresh()

    def _fresh(self) -> None:
        """Back to the state just after construction (the caller holds the lock, or no one can)."""
        self._config = self._initial_config
        self._tokens = TokenRegistry(self._clock)
        self._book = TransactionBook()
        self._faults = FaultBoard()
        self._counters: Counter[str] = Counter()
        self._calls_by_method: Counter[str] = Counter()
        self._token_use: Counter[str] = Counter()
        self._recent: deque[dict[str, str | None]] = deque(maxlen=RECENT)

    @property
    def accounts(self) -> list[Account]:
        """The accounts that may log in."""
        return list(self._accounts)

    # settings

    @property
    def config(self) -> Config:
        """A consistent snapshot of the settings."""
        with self._lock:
            return self._config

    def configure(self, **changes: Any) -> Config:
        """Change settings; ValueError leaves them untouched."""
        with self._lock:
            self._config = self._config.updated(**changes)
            return self._config

    # requests and logins

    def note_connection(self) -> None:
        """Count a TCP connection, so tests can see whether clients keep connections alive."""
        with self._lock:
            self._counters["connections"] += 1

    def note_request(self, target: str, method: str | None, traceparent: str | None = None) -> None:
        """Count a request received at the login or resource endpoints, faulted or not, and
        keep what a trace needs of it (the newest ``RECENT`` only)."""
        with self._lock:
            self._recent.append({"target": target, "method": method, "traceparent": traceparent})
            if target == "login":
                self._counters["logins_attempted"] += 1
            else:
                self._counters["calls"] += 1
                if method is not None:
                    self._calls_by_method[method] += 1

    def login(
        self, username: Any, password: Any, terminal_id: Any, issue_token: bool = True
    ) -> LoginOutcome:
        """Check credentials and, if asked, issue a token (revoking older ones if so configured)."""
        account = next(
            (a for a in self._accounts if a.matches(username, password, terminal_id)), None
        )
        with self._lock:
            if account is None:
                self._counters["logins_refused"] += 1
                return LoginOutcome(None)
            if not issue_token:
                return LoginOutcome(account)
            token = self._tokens.issue(account.username)
            if self._config.invalidate_on_login:
                self._tokens.revoke(username=account.username, keep=token)
            self._counters["logins_succeeded"] += 1
            return LoginOutcome(account, token)

    def note_refusal(self) -> None:
        """Count a login refused by a fault rather than by the credentials."""
        with self._lock:
            self._counters["logins_refused"] += 1

    def authorize(self, token: str | None) -> bool:
        """Whether a presented token is valid now; counts its use, or the rejection."""
        with self._lock:
            if token:
                self._token_use[fingerprint(token)] += 1
            if self._tokens.status(token, self._config.token_ttl) == "valid":
                return True
            self._counters["rejections"] += 1
            return False

    def revoke(self, username: str | None = None) -> int:
        """Revoke every valid token (of one user if given); return how many were revoked."""
        with self._lock:
            return self._tokens.revoke(username=username)

    def issued_tokens(self) -> list[str]:
        """Every token issued since the last reset, oldest first."""
        with self._lock:
            return self._tokens.issued()

    # payments

    def perform(self, agent_id: Any, amount: Any = None) -> dict[str, Any]:
        """Execute a payment; its result, a copy, so callers never race the book."""
        with self._lock:
            return self._book.perform(agent_id, amount).as_result()

    def by_agent_id(self, agent_id: Any) -> dict[str, Any] | None:
        """A payment's result by the agent's id; a copy, so callers never race the book."""
        with self._lock:
            found = self._book.by_agent_id(agent_id)
            return found.as_result() if found else None

    def by_id(self, transaction_id: Any) -> dict[str, Any] | None:
        """A payment's result by Paynet's transaction id."""
        with self._lock:
            found = self._book.by_id(transaction_id)
            return found.as_result() if found else None

    def transaction_ids(self, agent_id: Any) -> list[int]:
        """Every payment executed under the agent's id, oldest first (no answer names it)."""
        with self._lock:
            return [t.transaction_id for t in self._book.executed(agent_id)]

    def amounts(self, agent_id: Any) -> list[Any]:
        """The amount each of those payments received, as read (no answer holds it)."""
        with self._lock:
            return [t.amount for t in self._book.executed(agent_id)]

    def cancel(self, transaction_id: Any) -> dict[str, Any] | None:
        """Cancel a payment; its result after cancelling."""
        with self._lock:
            found = self._book.cancel(transaction_id)
            return found.as_result() if found else None

    # faults

    def inject_fault(self, fault: Fault) -> None:
        """Arm a fault."""
        with self._lock:
            self._faults.add(fault)

    def take_fault(self, target: str, method: str | None) -> Fault | None:
        """The fault this request meets, if any."""
        with self._lock:
            return self._faults.take(target, method)

    def clear_faults(self) -> int:
        """Disarm all faults."""
        with self._lock:
            return self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        """The armed faults."""
        with self._lock:
            return self._faults.active()

    def recent_requests(self) -> list[dict[str, str | None]]:
        """The newest requests received, oldest first: endpoint, method, ``traceparent``."""
        with self._lock:
            return list(self._recent)

    # whole state

    def reset(self) -> None:
        """Forget counters, tokens, payments and faults; settings back to the initial ones."""
        with self._lock:
            self._fresh()

    def stats(self) -> dict[str, Any]:
        """Counters as JSON-ready values; tokens appear only as fingerprints."""
        with self._lock:
            counters = self._counters
            return {
                "logins_attempted": counters["logins_attempted"],
                "logins_succeeded": counters["logins_succeeded"],
                "logins_refused": counters["logins_refused"],
                "calls": counters["calls"],
                "calls_by_method": dict(self._calls_by_method),
                "rejections": counters["rejections"],
                "executions": self._book.executions(),
                "token_use": dict(self._token_use),
                "tokens_issued": len(self._tokens.issued()),
                "faults_served": self._faults.served,
                "faults_armed": len(self._faults.active()),
                "transactions": len(self._book),
                "connections": counters["connections"],
            }
