"""HTTP client for the control interface, for tests whose simulator runs in another process."""

from __future__ import annotations

import base64
import time
from types import TracebackType
from typing import Any

import requests


class SimulatorControlError(RuntimeError):
    """The simulator refused a control request or could not be reached."""


class SimulatorControl:
    """Steers a running simulator at ``base_url`` the way Simulator's own methods do."""

    def __init__(
        self, base_url: str, timeout: float = 5.0, session: requests.Session | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = session or requests.Session()

    def _call(self, verb: str, route: str, payload: dict[str, Any] | None = None) -> Any:
        url = f"{self.base_url}/_control/{route}"
        try:
            response = self._session.request(verb, url, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SimulatorControlError(f"control {route} failed: {exc}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200:
            detail = answer.get("error") if isinstance(answer, dict) else response.text[:200]
            raise SimulatorControlError(f"control {route}: HTTP {response.status_code}: {detail}")
        return answer

    def revoke(self, username: str | None = None) -> int:
        """Revoke every valid token (of one user if given); return how many."""
        payload = {} if username is None else {"username": username}
        return int(self._call("POST", "revoke", payload)["revoked"])

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings; return them all."""
        result: dict[str, Any] = self._call("POST", "config", changes)
        return result

    def config(self) -> dict[str, Any]:
        """The current settings."""
        result: dict[str, Any] = self._call("GET", "config")
        return result

    def inject_fault(
        self,
        target: str,
        kind: str,
        count: int | None = None,
        delay: float | None = None,
        status: int | None = None,
        body: str | bytes | None = None,
        content_type: str | None = None,
        location: str | None = None,
    ) -> None:
        """Arm a fault for the next ``count`` requests to ``target`` (None: until cleared)."""
        payload: dict[str, Any] = {"target": target, "kind": kind, "count": count}
        if delay is not None:
            payload["delay"] = delay
        if status is not None:
            payload["status"] = status
        if isinstance(body, bytes):
            payload["body_base64"] = base64.b64encode(body).decode()
        elif body is not None:
            payload["body"] = body
        if content_type is not None:
            payload["content_type"] = content_type
        if location is not None:
            payload["location"] = location
        self._call("POST", "fault", payload)

    def clear_faults(self) -> int:
        """Disarm every fault; return how many were armed."""
        return int(self._call("POST", "clear_faults", {})["cleared"])

    def faults(self) -> list[dict[str, Any]]:
        """The armed faults and their remaining uses."""
        result: list[dict[str, Any]] = self._call("GET", "faults")
        return result

    def reset(self) -> None:
        """Counters, tokens, payments and faults forgotten; settings back to the initial ones."""
        self._call("POST", "reset", {})

    def stats(self) -> dict[str, Any]:
        """What the simulator has received."""
        result: dict[str, Any] = self._call("GET", "stats")
        return result

    def issued_tokens(self) -> list[str]:
        """Every token issued since the last reset, oldest first."""
        return [str(token) for token in self._call("GET", "tokens")]

    def wait_until_ready(self, timeout: float = 10.0) -> None:
        """Block until the simulator answers, for one started as a separate process."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._call("GET", "health")
                return
            except SimulatorControlError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def __enter__(self) -> SimulatorControl:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
