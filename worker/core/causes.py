"""Why a call or a token failed: stable cause codes, shared by the wire, the tokens and outages.

The codes appear in log lines and in ``TokenUnavailable`` messages; operators grep for them, so
they never change once published.
"""

from __future__ import annotations

from enum import StrEnum


class Cause(StrEnum):
    UNREACHABLE = "unreachable"  # connection refused, DNS failure, reset before an answer
    TIMEOUT = "timeout"  # connect or read timeout
    HTTP_ERROR = "http_error"  # an HTTP error status without a JSON-RPC body
    MALFORMED = "malformed"  # not JSON, not JSON-RPC, wrong id
    REFUSED = "refused"  # Paynet answered the login with a JSON-RPC error: bad credentials
    LOGIN_ERROR = "login_error"  # a JSON-RPC error listed in token.transient_login_codes
    NO_TOKEN = "no_token"  # noqa: S105 - a cause code: a login result without a usable token
    LOGIN_BUDGET = "login_budget"  # too many logins in the window: waiting for it to pass
    WAIT_TIMEOUT = "wait_timeout"  # no refresh finished within token.wait_timeout
    REJECTED_AFTER_REFRESH = "rejected_after_refresh"  # fresh tokens rejected again and again
    REDIS_UNAVAILABLE = "redis_unavailable"
    DATABASE_UNAVAILABLE = "database_unavailable"
    BROKER_UNAVAILABLE = "broker_unavailable"  # the refresh task could not be published


PERMANENT = frozenset({Cause.REFUSED})
