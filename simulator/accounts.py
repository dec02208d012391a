"""Paynet user accounts the simulator accepts at login."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Account:
    """One set of credentials; the password is kept out of repr so it never reaches a log."""

    username: str
    password: str = field(repr=False)
    terminal_id: int | str
    agent_id: str = "17627"
    user_id: int = 56530

    def matches(self, username: Any, password: Any, terminal_id: Any) -> bool:
        """Whether a login's params name this account; terminal ids compare as strings."""
        if not isinstance(username, str) or not isinstance(password, str):
            return False
        if terminal_id is None or isinstance(terminal_id, bool):
            return False
        same_password = secrets.compare_digest(password.encode(), self.password.encode())
        return (
            username == self.username
            and same_password
            and str(terminal_id) == str(self.terminal_id)
        )


DEFAULT_ACCOUNT = Account(
    username="username_17627_56530",
    password="password_17627_56530",  # noqa: S106 - the spec's sample account, a simulator
    terminal_id=4027096,
)
