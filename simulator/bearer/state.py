"""What the bearer simulator remembers, behind one lock: tokens, faults, counters."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ..faults import Fault, FaultBoard
from ..tokens import TokenRegistry

# How a token answer says when the token expires.
EXPIRY_FORMS = ("expires_in", "local_time", "jwt", "none")
MULTICARD_OFFSET = timezone(timedelta(hours=5))  # Tashkent: Multicard writes its local time


@dataclass(frozen=True)
class BearerConfig:
    client_id: str = "gateway-client"
    client_secret: str = "client-secret"  # noqa: S105 - the tests hand in their own
    token_ttl: float | None = 3600.0  # None: tokens never expire (until revoked)
    expiry_form: str = "expires_in"
    login_latency: float = 0.0
    call_latency: float = 0.0

    def __post_init__(self) -> None:
        if self.expiry_form not in EXPIRY_FORMS:
            raise ValueError(f"expiry_form must be one of {EXPIRY_FORMS}")


class BearerState:
    """Safe to share across handler threads; nothing sleeps under the lock."""

    def __init__(self, config: BearerConfig) -> None:
        self._lock = threading.Lock()
        self._initial = config
        self._fresh()

    def _fresh(self) -> None:
        self.config = self._initial
        self._tokens = TokenRegistry(time.monotonic)
        self._faults = FaultBoard()
        self._counters: Counter[str] = Counter()
        self._executions: Counter[str] = Counter()

    def reset(self) -> None:
        with self._lock:
            self._fresh()

    def configure(self, **changes: Any) -> BearerConfig:
        with self._lock:
            self.config = replace(self.config, **changes)
            return self.config

    def inject_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.add(fault)

    def take_fault(self, target: str) -> Fault | None:
        with self._lock:
            return self._faults.take(target, None)

    def count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1

    def login(self, client_id: Any, secret: Any) -> tuple[str, BearerConfig] | None:
        """A new token for the right credentials; None when they are wrong."""
        with self._lock:
            config = self.config
            if client_id != config.client_id or secret != config.client_secret:
                self._counters["refusals"] += 1
                return None
            token = self._tokens.issue(config.client_id)
            if config.expiry_form == "jwt":
                token = _jwt(token, config.token_ttl)
                self._tokens.adopt(token, config.client_id)
            self._counters["logins"] += 1
            return token, config

    def check(self, token: str | None) -> str:
        with self._lock:
            status = self._tokens.status(token, self.config.token_ttl)
            if status != "valid":
                self._counters["rejections"] += 1
            return status

    def executed(self, key: str | None) -> None:
        with self._lock:
            self._counters["executions"] += 1
            if key is not None:
                self._executions[key] += 1

    def revoke(self) -> int:
        with self._lock:
            return self._tokens.revoke()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                **{name: self._counters[name] for name in _COUNTERS},
                "executions_by_key": dict(self._executions),
            }

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return self._tokens.issued()


_COUNTERS = ("logins_attempted", "logins", "refusals", "calls", "rejections", "executions")


def token_answer(path: str, token: str, config: BearerConfig) -> dict[str, Any]:
    """The token endpoint's answer, in the shape of the endpoint asked."""
    ttl = config.token_ttl
    if path == "/auth":  # Multicard: {"token", "role", "expiry": local time, no offset}
        answer: dict[str, Any] = {"token": token, "role": "merchant"}
        if ttl is not None:
            local = datetime.now(UTC).astimezone(MULTICARD_OFFSET) + timedelta(seconds=ttl)
            answer["expiry"] = local.strftime("%Y-%m-%d %H:%M:%S")
        return answer
    answer = {"access_token": token, "token_type": "Bearer"}
    if config.expiry_form == "expires_in" and ttl is not None:
        answer["expires_in"] = int(ttl)
    return answer


def _jwt(seed: str, ttl: float | None) -> str:
    """An unsigned-looking JWT whose ``exp`` is ``ttl`` from now (the gateway never checks the
    signature: it reads ``exp`` to know when to log in again)."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    claims: dict[str, Any] = {"sub": "gateway-client", "jti": seed}
    if ttl is not None:
        claims["exp"] = int(time.time() + ttl)
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{seed}"
