"""In-process runtimes over the suite's real services, closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from worker.config import load_settings
from worker.core.clock import utcnow
from worker.runtime import Runtime, build_runtime
from worker.settings import Settings


@pytest.fixture
def make_runtime(gateway_env: dict[str, str]) -> Iterator[Callable[..., Runtime]]:
    built: list[Runtime] = []

    def make(
        env: dict[str, str] | None = None,
        clock: Callable[[], datetime] = utcnow,
        adjust: Callable[[Settings], Settings] = lambda settings: settings,
    ) -> Runtime:
        settings = adjust(load_settings(env={**gateway_env, **(env or {})}))
        runtime = build_runtime(settings, lambda profile, generation: None, clock=clock)
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()
