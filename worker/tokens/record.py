"""What the database holds for a profile, as plain values: the policy decides on these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Failure:
    cause: str
    detail: str
    at: datetime
    permanent: bool
    consecutive: int


@dataclass(frozen=True)
class TokenRecord:
    """What the database holds for a profile; ``token`` is None when there is none usable."""

    profile: str
    generation: int
    token: str | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    failure: Failure | None = None
    seen_at: datetime | None = None  # the database's time when the row was read
    fence: int = 0  # the login fence the stored token was saved under
