"""Gateway behaviour beyond the acceptance criteria: generations, bad input, refresh loops."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from celery import Celery
from sqlalchemy import Engine

from simulator import Simulator
from tests.conftest import USERNAME, call
from tests.support.tokens import seed
from tests.support.workers import WorkerPool
from worker.paynet.client import PaynetClient
from worker.settings import ProfileSettings
from worker.tokens.crypto import TokenCipher
from worker.tokens.store import TokenStore


def error_of(result: object) -> BaseException:
    with pytest.raises(Exception) as caught:
        result.get(timeout=30)  # type: ignore[attr-defined]
    return caught.value


def test_rejection_with_an_old_generation_reloads_the_newer_one_without_login(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    password: str,
    token_key: str,
) -> None:
    start_workers(processes=1, concurrency=1)
    call(producer).get(timeout=30)  # the worker now caches generation 1
    simulator.configure(invalidate_on_login=True)
    profile = ProfileSettings(
        base_url=simulator.url, username=USERNAME, password=password, terminal_id=4027096
    )
    fresh = PaynetClient(profile).login().token  # another host logged in: generation 1 is dead
    store = TokenStore(engine, TokenCipher([token_key.encode()]))
    assert seed(store, "default", fresh, None) == 2

    assert call(producer, params={"after": "reload"}).get(timeout=30) == {"after": "reload"}
    stats = simulator.stats()
    assert stats["logins_succeeded"] == 2  # the worker's first login and the other host's
    assert stats["rejections"] == 1


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"params": {"a": 1}}, "method"),
        ({"method": "echo", "params": [1, 2]}, "params"),
        ({"method": "echo", "params": "x"}, "params"),
        ({"method": "echo", "profile": "nobody"}, "profile"),
        ({"method": "echo", "colour": "red"}, "colour"),
        ({"method": "echo", "params": {"token": "mine"}}, "token"),
        ({"method": "echo", "idempotency_key": 7}, "idempotency_key"),
    ],
)
def test_bad_arguments_fail_with_invalid_request_and_send_nothing(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    kwargs: dict[str, object],
    named: str,
) -> None:
    start_workers(processes=1, concurrency=2)
    error = error_of(producer.send_task("paynet.call", kwargs=kwargs))
    assert type(error).__name__ == "InvalidRequest"
    assert named in str(error)
    stats = simulator.stats()
    assert stats["calls"] == 0
    assert stats["logins_attempted"] == 0


def test_a_token_rejected_right_after_every_refresh_ends_in_token_unavailable(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    simulator.configure(token_ttl=0.000001)  # every token is dead on arrival
    start_workers(processes=1, concurrency=2)
    error = error_of(call(producer))
    assert type(error).__name__ == "TokenUnavailable"
    assert "rejected_after_refresh" in str(error)
    assert simulator.stats()["logins_succeeded"] == 4  # the first and MAX_REFRESH_CYCLES (3)


def test_paynet_errors_reach_the_producer_with_code_message_and_data(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    start_workers(processes=1, concurrency=2)
    error = error_of(call(producer, method="checkTransactionByAgentId", params={"id": "none"}))
    assert type(error).__name__ == "PaynetRpcError"
    assert error.args[0] == -12007
    assert error.args[1] == "transaction not found"


def test_the_token_sits_inside_params_when_configured(
    start_workers: Callable[..., WorkerPool], producer: Celery, simulator: Simulator
) -> None:
    simulator.configure(token_placement="params")
    start_workers(processes=1, concurrency=2, env={"PAYNET_TOKEN_PLACEMENT": "params"})
    assert call(producer, params={"x": 1}).get(timeout=30) == {"x": 1}
    assert simulator.stats()["rejections"] == 0
