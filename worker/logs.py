"""Logging for workers and the CLI: one line per event on standard error.

Celery's ``setup_logging`` signal hands logging to us, so every record of every logger
(Celery's, urllib3's, ours) passes through the handlers configured here.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from celery.signals import setup_logging

from worker.redaction import RedactingFilter
from worker.settings import LoggingSettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"


def handlers_for(settings: LoggingSettings) -> list[logging.Handler]:
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    handlers = [handler]
    if settings.file:
        handlers.append(logging.FileHandler(settings.file, encoding="utf-8"))
    for each in handlers:
        each.setFormatter(logging.Formatter(TEXT_FORMAT))
        # On the handler, not a logger: a logger's filter never sees its children's records.
        each.addFilter(RedactingFilter())
    return handlers


def configure(settings: LoggingSettings, level: str | int | None = None) -> None:
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers_for(settings):
        root.addHandler(handler)
    root.setLevel(level or settings.level)


def _on_setup_logging(loglevel: Any = None, **_: Any) -> None:
    from worker.config import get_settings

    settings = get_settings().logging
    configure(settings, settings.level if loglevel is None else loglevel)


def connect() -> None:
    setup_logging.connect(_on_setup_logging, weak=False)
