"""paynet-gateway: a Celery worker gateway to the Paynet JSON-RPC API.

``celery -A worker worker`` finds the Celery app as ``worker.app``; it is built on first access
so that importing a submodule (in tests, in the CLI) does not need a valid configuration.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in {"app", "celery"}:
        from worker.app import app

        return app
    raise AttributeError(f"module 'worker' has no attribute {name!r}")
