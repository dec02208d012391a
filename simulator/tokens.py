"""Tokens the simulator issues, and how they stop being valid."""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

TokenStatus = Literal["valid", "missing", "unknown", "revoked", "expired"]

_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 32


def fingerprint(token: str) -> str:
    """A short stable name for a token, safe to show where the token itself must not be."""
    return hashlib.sha256(token.encode()).hexdigest()[:6]


def new_token() -> str:
    """A fresh random token shaped like Paynet's (32 letters and digits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))


@dataclass
class _Record:
    username: str
    issued_at: float
    revoked: bool = False


class TokenRegistry:
    """Issued tokens and their state. Not thread-safe: the simulator state locks around it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._records: dict[str, _Record] = {}

    def issue(self, username: str) -> str:
        """Create and remember a new token for ``username``."""
        token = new_token()
        while token in self._records:
            token = new_token()
        self._records[token] = _Record(username=username, issued_at=self._clock())
        return token

    def status(self, token: str | None, ttl: float | None) -> TokenStatus:
        """Why a presented token is or is not accepted."""
        if not token:
            return "missing"
        record = self._records.get(token)
        if record is None:
            return "unknown"
        if record.revoked:
            return "revoked"
        if ttl is not None and self._clock() - record.issued_at >= ttl:
            return "expired"
        return "valid"

    def adopt(self, token: str, username: str) -> None:
        """Remember ``token``, made by the caller (a JWT built around an issued one)."""
        self._records[token] = _Record(username=username, issued_at=self._clock())

    def revoke(self, username: str | None = None, keep: str | None = None) -> int:
        """Revoke every live token (of ``username`` if given) except ``keep``; return how many."""
        count = 0
        for token, record in self._records.items():
            if record.revoked or token == keep:
                continue
            if username is not None and record.username != username:
                continue
            record.revoked = True
            count += 1
        return count

    def issued(self) -> list[str]:
        """Every token ever issued, oldest first."""
        return list(self._records)

    def clear(self) -> None:
        """Forget every token."""
        self._records.clear()
