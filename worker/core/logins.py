"""What a token provider hands the token mechanism: the seam between the two.

A provider (Paynet's JSON-RPC ``login``, a bearer API's token endpoint) supplies a
``TokenSource``: one login that either issues a token, with its lifetime when the answer says,
or raises a classified ``LoginFailure``. The mechanism (``worker/tokens``) knows nothing else of
it: where the token goes on a request and how a rejection shows are the call path's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from worker.core.causes import PERMANENT, Cause


@dataclass(frozen=True)
class Issued:
    """A token a login issued; ``lifetime``: seconds it is valid from now, if the answer said."""

    token: str
    elapsed: float
    lifetime: float | None = None


class LoginFailure(Exception):
    """A classified failure to log in; ``detail`` is safe to log (no secret ever goes in)."""

    def __init__(self, cause: Cause, detail: str) -> None:
        super().__init__(cause, detail)
        self.cause = cause
        self.detail = detail

    @property
    def permanent(self) -> bool:
        return self.cause in PERMANENT

    def __str__(self) -> str:
        return f"{self.cause.value}: {self.detail}"


class TokenSource(Protocol):
    """One integration's way to obtain a token."""

    @property
    def login_url(self) -> str:
        """Where the login goes, for log lines (no credentials in it)."""
        ...

    def login(self) -> Issued:
        """Log in once; raises ``LoginFailure``."""
        ...
