"""Ledger rows written directly, of any state and age (what months of payments leave)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def row(key: str, state: str, age_days: float) -> dict[str, Any]:
    when = datetime.now(UTC) - timedelta(days=age_days)
    return {
        "idempotency_key": key,
        "profile": "default",
        "path": "/v2/gw/transaction",
        "method": "performTransaction",
        "params_sha256": "ab" * 32,
        "state": state,
        "attempts": 1,
        "created_at": when,
        "updated_at": when,
    }
