"""Run-time settings of the simulator, changeable while it serves."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

TOKEN_PLACEMENTS = ("top", "params")


@dataclass(frozen=True)
class Config:
    """What the simulated Paynet does with tokens and how fast it answers.

    Frozen so a request handler can take one consistent snapshot without holding the lock.
    """

    token_ttl: float | None = None
    invalidate_on_login: bool = False
    unauthorized_status: int = 200
    login_latency: float = 0.0
    call_latency: float = 0.0
    token_placement: str = "top"  # noqa: S105 - where the token goes, not a password

    def updated(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied; ValueError names the first bad key."""
        known = {f.name for f in dataclasses.fields(self)}
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown setting {key!r}")
            clean[key] = _validate(key, value)
        return dataclasses.replace(self, **clean)

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values."""
        return dataclasses.asdict(self)


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"setting {key!r} must be a number")
    if value < 0:
        raise ValueError(f"setting {key!r} must not be negative")
    return float(value)


def _validate(key: str, value: Any) -> Any:
    """Check one setting, so a typo fails at configure time and not mid-test."""
    if key == "token_ttl":
        if value is None:
            return None
        ttl = _number(key, value)
        if ttl == 0:
            raise ValueError("setting 'token_ttl' must be positive or null")
        return ttl
    if key == "invalidate_on_login":
        if not isinstance(value, bool):
            raise ValueError("setting 'invalidate_on_login' must be true or false")
        return value
    if key == "unauthorized_status":
        if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
            raise ValueError("setting 'unauthorized_status' must be an HTTP status code")
        return value
    if key == "token_placement":
        if value not in TOKEN_PLACEMENTS:
            raise ValueError(f"setting 'token_placement' must be one of {TOKEN_PLACEMENTS}")
        return value
    return _number(key, value)
