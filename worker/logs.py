"""Logging for workers and the CLI: one line per event on standard error.

Celery's ``setup_logging`` signal hands logging to us, so every record of every logger
(Celery's, urllib3's, ours) passes through the handlers configured here. Lines are for people
by default (``logging.format: text``) and JSON objects by a setting (``json``); either way a line
logged inside a task carries the task's id and, where the producer gave one, its idempotency key.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from celery._state import get_current_task
from celery.signals import setup_logging

from worker.core.redaction import RedactingFilter
from worker.settings import LoggingSettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s%(task_context)s: %(message)s"
_KEY_LIMIT = 200


def printable_key(value: Any) -> str:
    """A producer's key as it may appear on a log line: a string, bounded, no control character."""
    if not isinstance(value, str):
        return ""
    return "".join(ch if ch.isprintable() else "?" for ch in value[:_KEY_LIMIT])


class TaskContext(logging.Filter):
    """Stamps every record with the running task's id and idempotency key (empty outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = get_current_task()
        request = getattr(task, "request", None) if task is not None else None
        task_id = getattr(request, "id", None) or ""
        kwargs = getattr(request, "kwargs", None) if task_id else None
        key = printable_key(kwargs.get("idempotency_key")) if isinstance(kwargs, dict) else ""
        record.task_id = task_id
        record.idempotency_key = key
        parts = [f"task={task_id}"] if task_id else []
        if key:
            parts.append(f"key={key}")
        record.task_context = f" [{' '.join(parts)}]" if parts else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, process, logger, message, task context."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "process": record.processName,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("task_id", "idempotency_key"):
            value = getattr(record, field, "")
            if value:
                entry[field] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # the redaction filter may have masked it, and dropped exc_info
            entry["exc_info"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter_for(settings: LoggingSettings) -> logging.Formatter:
    if settings.format == "json":
        return JsonFormatter()
    return logging.Formatter(TEXT_FORMAT)


def handlers_for(settings: LoggingSettings) -> list[logging.Handler]:
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    handlers = [handler]
    if settings.file:
        handlers.append(logging.FileHandler(settings.file, encoding="utf-8"))
    for each in handlers:
        each.addFilter(TaskContext())
        each.setFormatter(formatter_for(settings))
        # On the handler, not a logger: a logger's filter never sees its children's records.
        # Last, so that it sees every field the filters before it added.
        each.addFilter(RedactingFilter())
    return handlers


def configure(settings: LoggingSettings, level: str | int | None = None) -> None:
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers_for(settings):
        root.addHandler(handler)
    root.setLevel(level or settings.level)


def level_given(argv: list[str]) -> bool:
    """Whether the command line names a log level itself (``-l``, ``--loglevel``)."""
    return any(
        arg in ("-l", "--loglevel") or arg.startswith(("--loglevel=", "-l")) for arg in argv[1:]
    )


def _on_setup_logging(loglevel: Any = None, **_: Any) -> None:
    """Celery hands its ``--loglevel``, WARNING when none was given: the configured level
    (``logging.level``, ``LOG_LEVEL``) wins unless the command line names one. Read from the
    infrastructure settings: no Paynet setting, so Flower and producers log too."""
    from worker.config import get_infrastructure

    settings = get_infrastructure().logging
    explicit = loglevel is not None and level_given(sys.argv)
    configure(settings, loglevel if explicit else settings.level)


def connect() -> None:
    setup_logging.connect(_on_setup_logging, weak=False)
