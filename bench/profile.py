"""Where a storm's extra latency goes: the moments the workers noted, taken apart.

A caught task waits for the refresh of the generation Paynet rejected: the refresh is requested
(the refresh task published; in place, the asking task starts it), a refresher picks it up,
logs in and saves the token; then the caught task runs again (after its countdown, through the
broker; in place, in its slot) and sends. Pure, over the plain values the bench collected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Refresh:
    requested: float | None
    started: float
    ended: float
    login: tuple[float, float] | None  # the login inside this run, if it logged in


@dataclass(frozen=True)
class StormProfile:
    """Seconds (counts for ``retries``), one value per refresh or per caught task."""

    pickup: list[float] = field(default_factory=list)  # requested -> the refresher starts
    to_login: list[float] = field(default_factory=list)  # start -> login (lock, budget, reads)
    login: list[float] = field(default_factory=list)
    saving: list[float] = field(default_factory=list)  # login answered -> the refresher ends
    retries: list[int] = field(default_factory=list)  # per caught task
    resumed: list[float] = field(default_factory=list)  # token saved -> the task runs again
    late: list[float] = field(default_factory=list)  # a retry's start past its countdown
    last_run: list[float] = field(default_factory=list)  # that run (the last) -> its end


def _pair(value: str) -> tuple[float, float]:
    first, second = value.split(",")
    return float(first), float(second)


def refreshes(events: Mapping[str, str]) -> dict[int, Refresh]:
    """Per stale generation, its first refresher run, and the login that ran inside it."""
    logins = sorted(_pair(v) for k, v in events.items() if k.startswith("login:"))
    found: dict[int, Refresh] = {}
    for key, value in events.items():
        if not key.startswith("refresh:"):
            continue
        generation = int(key.split(":", 1)[1])
        started, ended = _pair(value)
        login = next((lg for lg in logins if started <= lg[0] and lg[1] <= ended), None)
        requested = events.get(f"requested:{generation}")
        found[generation] = Refresh(
            float(requested) if requested is not None else None, started, ended, login
        )
    return found


def runs(events: Mapping[str, str]) -> dict[str, list[tuple[float, float]]]:
    """Per task id, (when it began, when its countdown ended) of each retry, in order."""
    found: dict[str, list[tuple[float, float]]] = {}
    for key, value in events.items():
        if key.startswith("run:"):
            _, task_id, _retries = key.split(":")
            found.setdefault(task_id, []).append(_pair(value))
    return {task_id: sorted(times) for task_id, times in found.items()}


def profile(
    events: Mapping[str, str],
    caught: Mapping[str, tuple[float, int]],
    ends: Mapping[str, float],
) -> StormProfile:
    """``caught``: task id -> (first rejection, the generation rejected); ``ends``: when each
    caught task finished."""
    by_generation = refreshes(events)
    result = StormProfile()
    for refresh in by_generation.values():
        if refresh.requested is not None:
            result.pickup.append(max(0.0, refresh.started - refresh.requested))
        if refresh.login is not None:
            result.to_login.append(refresh.login[0] - refresh.started)
            result.login.append(refresh.login[1] - refresh.login[0])
            result.saving.append(refresh.ended - refresh.login[1])
    retried = runs(events)
    for task_id, (rejected, generation) in caught.items():
        own_runs = [run for run in retried.get(task_id, []) if run[0] >= rejected]
        own = [start for start, _due in own_runs]
        result.retries.append(len(own))
        result.late.extend(max(0.0, start - due) for start, due in own_runs)
        served = by_generation.get(generation)
        if own and served is not None:
            after = [t for t in own if t >= served.ended]
            if after:
                result.resumed.append(after[0] - served.ended)
        if own and task_id in ends:
            result.last_run.append(ends[task_id] - own[-1])
    return result
