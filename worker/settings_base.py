"""What every settings model is made of: immutable, strict, never quoting a value in an error."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    # hide_input_in_errors: a validation error never quotes a value, which may be a password.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Timeouts(Frozen):
    """Seconds; a read timeout on a request that changes something (a payment) leaves its
    outcome unknown, so keep it generous."""

    connect: float = Field(3.05, gt=0)
    read: float = Field(30.0, gt=0)
    login: float = Field(10.0, gt=0)


def http_base_url(value: str) -> str:
    """A base URL as every endpoint setting takes it: http(s), no trailing slash."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


def absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with /")
    return value
