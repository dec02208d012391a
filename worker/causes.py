"""Why a token could not be had: stable cause codes, and which of them heal by themselves.

The codes appear in log lines and in ``TokenUnavailable`` messages; operators grep for them, so
they never change once published.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Cause(str, Enum):
    UNREACHABLE = "unreachable"  # connection refused, DNS failure, reset before an answer
    TIMEOUT = "timeout"  # connect or read timeout
    HTTP_ERROR = "http_error"  # an HTTP error status without a JSON-RPC body
    MALFORMED = "malformed"  # not JSON, not JSON-RPC, wrong id
    REFUSED = "refused"  # Paynet answered the login with a JSON-RPC error: bad credentials
    LOGIN_ERROR = "login_error"  # a JSON-RPC error listed in token.transient_login_codes
    NO_TOKEN = "no_token"  # a login result without a usable token
    LOGIN_BUDGET = "login_budget"  # too many logins in the window: waiting for it to pass
    WAIT_TIMEOUT = "wait_timeout"  # no refresh finished within token.wait_timeout
    REJECTED_AFTER_REFRESH = "rejected_after_refresh"  # fresh tokens rejected again and again
    REDIS_UNAVAILABLE = "redis_unavailable"
    DATABASE_UNAVAILABLE = "database_unavailable"

    def __str__(self) -> str:
        return self.value


PERMANENT = frozenset({Cause.REFUSED})

# What a waiting task says when an outage it met on an earlier poll made it give up.
OUTAGES = {
    Cause.REDIS_UNAVAILABLE: "Redis (refresh requests and lock) could not be reached",
    Cause.DATABASE_UNAVAILABLE: "the token store's database could not be reached",
}


@dataclass(frozen=True)
class LoginFailure(Exception):
    """A classified failure to log in; ``detail`` is safe to log (no secret ever goes in)."""

    cause: Cause
    detail: str

    @property
    def permanent(self) -> bool:
        return self.cause in PERMANENT

    def __str__(self) -> str:
        return f"{self.cause.value}: {self.detail}"


def describe(profile: str, cause: Cause | str, detail: str) -> str:
    """The message a waiting task receives in ``TokenUnavailable``."""
    return f"no Paynet token for profile {profile!r}: {cause} ({detail})"
