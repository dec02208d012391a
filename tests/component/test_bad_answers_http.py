"""The corpus of bad answers over real HTTP (the simulator's "raw" fault): each login ends in
its cause with one ERROR line, each resource call in its typed error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from simulator import Simulator
from tests.support.answers import CORPUS, BadAnswer, serve
from worker.calls.request import CallRequest
from worker.config import load_settings
from worker.errors import PaynetGatewayError
from worker.runtime import Runtime, build_runtime
from worker.tokens.refresher import Failed, Refreshed


@pytest.fixture
def runtime(gateway_env: dict[str, str]) -> Iterator[Runtime]:
    built = build_runtime(load_settings(env=gateway_env), lambda profile, generation: None)
    yield built
    built.close()


@pytest.mark.parametrize("bad", CORPUS, ids=lambda bad: bad.name)
def test_a_bad_login_answer_fails_the_refresh_with_its_cause_and_one_error_line(
    runtime: Runtime, simulator: Simulator, caplog: pytest.LogCaptureFixture, bad: BadAnswer
) -> None:
    serve(simulator, "login", bad)
    with caplog.at_level(logging.INFO, logger="worker.refresh"):
        outcome = runtime.refresher.refresh("default", 0)

    assert isinstance(outcome, Failed)
    assert outcome.failure.cause.value == bad.login_cause
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert f"profile=default cause={bad.login_cause} url={simulator.login_url}" in errors[0]
    failure = runtime.store.load("default").failure
    assert failure is not None and failure.cause == bad.login_cause


@pytest.mark.parametrize("bad", CORPUS, ids=lambda bad: bad.name)
def test_a_bad_resource_answer_ends_in_its_typed_error(
    runtime: Runtime, simulator: Simulator, bad: BadAnswer
) -> None:
    assert isinstance(runtime.refresher.refresh("default", 0), Refreshed)
    serve(simulator, "resource", bad)
    with pytest.raises(PaynetGatewayError) as caught:
        runtime.gateway.call(CallRequest("echo", {"amount": 1}))
    assert type(caught.value).__name__ == bad.resource_error
