"""The ``paynet.refresh_token`` task's arguments: built, sealed and opened in one place.

Whoever can publish to the broker can ask for a refresh; a login may knock out the token every
worker is using, so only a request sealed by a worker (or the operator's CLI, for a forced
login) is acted on. The seal covers every argument and the task id.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from worker.core.seal import Seal

SEAL_KWARG = "seal"


@dataclass(frozen=True)
class RefreshRequest:
    profile: str
    stale_generation: int
    attempt: int = 1
    started: float | None = None  # the database's time the first attempt began
    force: bool = False  # log in even if the stored token looks good: the operator's own
    operator: bool = False  # sealed by the CLI (``token refresh``), not by a worker


def new_task_id() -> str:
    return str(uuid.uuid4())


def sealed_kwargs(seal: Seal, task_id: str, request: RefreshRequest) -> dict[str, Any]:
    kwargs = asdict(request)
    return {**kwargs, SEAL_KWARG: seal.sign({"task": task_id, **kwargs})}


def open_request(seal: Seal, task_id: str, kwargs: dict[str, Any]) -> RefreshRequest | None:
    """The request, if its seal holds and its values make sense; None otherwise."""
    given = {k: v for k, v in kwargs.items() if k != SEAL_KWARG}
    try:
        request = RefreshRequest(**given)
    except TypeError:
        return None
    if not seal.verify({"task": task_id, **asdict(request)}, kwargs.get(SEAL_KWARG)):
        return None
    if request.stale_generation < 0 or request.attempt < 1:
        return None
    if request.force and not request.operator:
        return None
    return request
