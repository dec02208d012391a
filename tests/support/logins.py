"""Which task logged in, read from the workers' own logs (Celery's "received" lines and the
gateway's task context on every line logged inside a task)."""

from __future__ import annotations

import re
from dataclasses import dataclass

RECEIVED = re.compile(r"Task (paynet\.[a-z_]+)\[([0-9a-f-]+)\] received")


@dataclass(frozen=True)
class Logins:
    by_task: dict[str, str]  # task id -> task name, every task the workers received
    logged_in: list[str]  # the task id of every "token refresh started" line ("" outside a task)

    def names(self) -> list[str]:
        """The task name each login ran in."""
        return [self.by_task.get(task_id, "<no task>") for task_id in self.logged_in]


def logins(logs: str) -> Logins:
    by_task = {task_id: name for name, task_id in RECEIVED.findall(logs)}
    logged_in = []
    for line in logs.splitlines():
        if "token refresh started" in line:
            found = re.search(r"\[task=([0-9a-f-]+)", line)
            logged_in.append(found.group(1) if found else "")
    return Logins(by_task, logged_in)


def assert_only_the_refresh_task_logs_in(logs: str, expected: int) -> None:
    seen = logins(logs)
    assert len(seen.logged_in) == expected, seen.logged_in
    assert set(seen.names()) == {"paynet.refresh_token"}, seen.names()
