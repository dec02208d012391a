"""Log lines: one per event, for people or as JSON, each inside a task naming the task and key."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery

from simulator import Simulator
from tests.conftest import call
from tests.support.waiting import wait_for
from tests.support.workers import WorkerPool
from worker.logs import (
    JsonFormatter,
    TaskContext,
    formatter_for,
    handlers_for,
    level_given,
    printable_key,
)
from worker.settings import LoggingSettings


def record(message: str, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    made = logging.LogRecord("worker.gateway", logging.INFO, __file__, 1, message, (), exc_info)
    TaskContext().filter(made)
    return made


def test_a_line_outside_a_task_has_no_task_context() -> None:
    line = formatter_for(LoggingSettings()).format(record("token rejected: profile=default"))
    assert line.endswith(" INFO MainProcess worker.gateway: token rejected: profile=default")


def test_json_lines_are_one_object_each_with_the_exception_inside() -> None:
    line = JsonFormatter().format(record("paynet call failed", exc=True))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "worker.gateway"
    assert entry["message"] == "paynet call failed"
    assert "ValueError: boom" in entry["exc_info"]
    assert "task_id" not in entry


def test_the_json_setting_gives_every_handler_the_json_formatter(tmp_path: Any) -> None:
    settings = LoggingSettings(format="json", file=str(tmp_path / "w.log"))
    handlers = handlers_for(settings)
    assert len(handlers) == 2
    assert all(isinstance(h.formatter, JsonFormatter) for h in handlers)
    for handler in handlers:
        handler.close()


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines of a worker's output (its start-up banner is printed, not logged)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_json_lines_inside_a_task_carry_its_id_and_idempotency_key(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    password: str,
) -> None:
    workers = start_workers(env={"LOG_FORMAT": "json"})
    result = call(producer, params={"n": 1}, idempotency_key="order-77")
    assert result.get(timeout=30) == {"n": 1}
    entries = json_lines(workers.logs())
    requested = [e for e in entries if e["message"].startswith("token refresh requested:")]
    assert len(requested) == 1
    assert requested[0]["task_id"] == result.id
    assert requested[0]["idempotency_key"] == "order-77"
    assert requested[0]["level"] == "INFO"
    refreshed = [e for e in entries if e["message"].startswith("token refreshed:")]
    assert len(refreshed) == 1
    assert "generation=1 duration=" in refreshed[0]["message"]
    # The dedicated refresh task logged in: its own id, no payment's key.
    assert refreshed[0]["task_id"] not in ("", result.id)
    assert not refreshed[0].get("idempotency_key")
    waited = [e for e in entries if e["message"].startswith("token wait ended:")]
    assert [e["task_id"] for e in waited] == [result.id]
    for secret in [password, *simulator.issued_tokens()]:
        assert secret not in workers.logs()


def test_text_lines_inside_a_task_name_it_and_its_key(
    start_workers: Callable[..., WorkerPool], producer: Celery
) -> None:
    workers = start_workers()
    result = call(producer, idempotency_key="order-78")
    result.get(timeout=30)
    lines = [line for line in workers.logs().splitlines() if "token wait ended:" in line]
    assert len(lines) == 1
    assert f" worker.token [task={result.id} key=order-78]: token wait ended: " in lines[0]


@pytest.mark.parametrize("key", ["line\nbreak", "x" * 500])
def test_a_producers_key_cannot_break_or_flood_a_line(key: str) -> None:
    shown = printable_key(key)
    assert "\n" not in shown
    assert len(shown) <= 200


@pytest.mark.parametrize(
    ("argv", "given"),
    [
        (["celery", "-A", "worker", "worker"], False),
        (["celery", "-A", "worker", "worker", "-l", "DEBUG"], True),
        (["celery", "-A", "worker", "worker", "--loglevel=ERROR"], True),
        (["celery", "-A", "worker", "worker", "-lINFO"], True),
    ],
)
def test_only_a_level_named_on_the_command_line_overrides_the_configured_one(
    argv: list[str], given: bool
) -> None:
    assert level_given(argv) is given


def test_a_worker_started_without_a_log_level_logs_its_task_and_token_lines_at_info(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    # As a worker started by hand: `celery -A worker worker`, LOG_LEVEL=INFO (Celery's own
    # default would be WARNING, and it would log none of these).
    workers = start_workers(loglevel_flag=False)
    assert call(producer, params={"n": 1}).get(timeout=30) == {"n": 1}
    wait_for(lambda: "<result: " in workers.logs())  # logged just after the result is stored
    logs = workers.logs()
    assert " ready." in logs
    assert "INFO" in logs and "token refreshed: profile=default generation=1" in logs
    assert "Task paynet.call[" in logs and "succeeded in" in logs
    assert "<result: 1 fields>" in logs  # Celery's line shows the summary, not the result
    assert "'n': 1" not in logs
