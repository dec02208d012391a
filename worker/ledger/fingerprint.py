"""What makes two requests "the same" for an idempotency key: profile, path, method, params.

The params are hashed in a canonical JSON form (keys sorted, numbers by value, no whitespace),
so that a producer resending its payment with the keys in another order, or an amount written
``100`` instead of ``100.00``, is recognised as the same request, while any change of meaning is
a conflict. The token is never part of it (``params`` may not hold one).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Fingerprint:
    profile: str
    path: str
    method: str
    params_sha256: str

    def differences(self, other: Fingerprint) -> list[str]:
        """Names of the parts that differ, for an ``IdempotencyConflict`` message."""
        names = {"params_sha256": "params"}
        return [
            names.get(f.name, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("params hold NaN or Infinity, which JSON cannot carry")
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not exact.is_finite():
        raise ValueError("params hold NaN or Infinity, which JSON cannot carry")
    text = format(exact.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def canonical_json(value: Any) -> str:
    """One text per meaning: sorted keys, numbers by value, strings as JSON writes them."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ValueError("params hold an object key that is not a string")
        items = sorted(value.items())
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{canonical_json(v)}" for k, v in items)
            + "}"
        )
    raise ValueError(f"params hold a {type(value).__name__}, which is not JSON")


def fingerprint(profile: str, path: str, method: str, params: dict[str, Any]) -> Fingerprint:
    """Raises ``ValueError`` for params that are not JSON (then nothing may be sent)."""
    digest = hashlib.sha256(canonical_json(params).encode("utf-8")).hexdigest()
    return Fingerprint(profile, path, method, digest)
