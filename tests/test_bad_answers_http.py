"""The corpus of bad answers over real HTTP (the simulator's "raw" fault): each login ends in
its cause with one ERROR line, each resource call in its typed error; the worker survives them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from celery import Celery

from simulator import Simulator
from tests.conftest import call
from tests.support.answers import CORPUS, BadAnswer
from tests.support.workers import WorkerPool
from worker.calls.request import CallRequest
from worker.config import load_settings
from worker.errors import PaynetGatewayError
from worker.runtime import Runtime, build_runtime
from worker.tokens.refresher import Failed, Refreshed

ANY_ID = 1  # the raw fault cannot know the request's id; every kind here is bad whatever it is


@pytest.fixture
def runtime(gateway_env: dict[str, str]) -> Iterator[Runtime]:
    built = build_runtime(load_settings(env=gateway_env), lambda profile, generation: None)
    yield built
    built.close()


def serve(simulator: Simulator, target: str, bad: BadAnswer) -> None:
    simulator.inject_fault(
        target,
        "raw",
        count=1,
        status=bad.status,
        body=bad.body(ANY_ID),
        content_type=bad.content_type,
    )


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


E2E = ("html_with_200", "html_with_502", "nan_number", "not_utf8", "oversized_body")


def test_bad_resource_answers_reach_the_producer_as_typed_errors_and_the_worker_keeps_working(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    workers = start_workers(concurrency=2)
    assert call(producer, params={"before": 1}).get(timeout=30) == {"before": 1}
    by_name = {bad.name: bad for bad in CORPUS}
    for name in E2E:
        serve(simulator, "resource", by_name[name])
        with pytest.raises(Exception) as caught:
            call(producer).get(timeout=30)
        assert type(caught.value).__name__ == by_name[name].resource_error, name
    assert call(producer, params={"after": 1}).get(timeout=30) == {"after": 1}
    assert all(worker.alive() for worker in workers.workers)
    assert simulator.stats()["logins_attempted"] == 1
