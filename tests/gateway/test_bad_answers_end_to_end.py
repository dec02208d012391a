"""Bad resource answers through real workers: the producer gets the typed error, the worker
keeps working, and no answer costs a login.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from celery import Celery

from simulator import Simulator
from tests.conftest import call
from tests.support.answers import CORPUS, serve
from tests.support.workers import WorkerPool

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
