"""Worker start-up: refuse to start on a bad configuration or a schema that is behind."""

from __future__ import annotations

import logging
import sys
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init

from worker.config import REPO_ROOT, ConfigError, get_settings
from worker.crypto import TokenKeyError, cipher_from_settings
from worker.database import make_engine
from worker.runtime import get_runtime, reset_runtime
from worker.schema import SchemaBehind, ensure_current

log = logging.getLogger("worker.lifecycle")


def check_startup() -> None:
    """Everything a worker needs before it takes a task; raises with a clear message."""
    settings = get_settings()
    cipher_from_settings(settings.security, REPO_ROOT)
    engine = make_engine(settings.database.url)
    try:
        ensure_current(engine)
    finally:
        engine.dispose()
    for name, profile in settings.paynet.profiles.items():
        if not profile.verify_tls:
            log.warning("TLS verification is OFF for Paynet profile %s (verify_tls: false)", name)


def _on_worker_init(**_: Any) -> None:
    try:
        check_startup()
    except (ConfigError, TokenKeyError, SchemaBehind) as exc:
        print(f"paynet-gateway: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:  # the database itself unreachable, say
        print(
            f"paynet-gateway: cannot start: database check failed ({type(exc).__name__})",
            file=sys.stderr,
        )
        raise SystemExit(2) from None


def _on_process_init(**_: Any) -> None:
    reset_runtime()
    get_runtime()


def connect(app: Celery) -> None:
    worker_init.connect(_on_worker_init, weak=False)
    worker_process_init.connect(_on_process_init, weak=False)
