"""Seals on internal state that travels through the broker, so it cannot be forged or replayed.

A task's wait state (``_wait``, ``_ledger``) and the refresh task's arguments come back to the
gateway through the broker, where any publisher could write them. Each is sealed with an
HMAC-SHA256 under keys that only the workers and the operator's CLI hold (derived from the
token keys): the first key seals, every key opens, so a rotation that gives every process the
new key before any seals with it (docs/security.md) keeps what is in flight valid. The sealed
payload names the task id, so a seal copied into another task is no good.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

_CONTEXT = b"paynet-gateway sealed task state v1"


def derive(key_material: bytes) -> bytes:
    """A sealing key of its own, so a seal never reveals anything of the token key."""
    return hmac.new(key_material, _CONTEXT, hashlib.sha256).digest()


def _canonical(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


class Seal:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a seal needs at least one key")
        self._keys = [derive(key) for key in keys]

    def sign(self, payload: Mapping[str, Any]) -> str:
        return hmac.new(self._keys[0], _canonical(payload), hashlib.sha256).hexdigest()

    def verify(self, payload: Mapping[str, Any], seal: Any) -> bool:
        if not isinstance(seal, str):
            return False
        body = _canonical(payload)
        return any(
            hmac.compare_digest(hmac.new(key, body, hashlib.sha256).hexdigest(), seal)
            for key in self._keys
        )
