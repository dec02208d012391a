"""The token mechanism with a bearer provider, in-process on the real database, Redis and the
bearer simulator: the refresher logs in through the integration's token endpoint, keeps the
token encrypted with the life its answer gave, single-flight across hosts, and a refusal of
the credentials stops further logins."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from simulator.bearer import BearerConfig, BearerSimulator
from tests.support.integrations import config_with, oauth2_block
from worker.config import load_settings
from worker.core.causes import Cause
from worker.db.tables import tokens
from worker.runtime import Runtime, build_runtime
from worker.tokens.refresher import Busy, Failed, Refreshed, RefreshOutcome

SECRET = "cs-component-secret-value"


@pytest.fixture
def bearer() -> Iterator[BearerSimulator]:
    with BearerSimulator(BearerConfig(client_secret=SECRET, token_ttl=600)) as sim:
        yield sim


@pytest.fixture
def hosts(
    gateway_env: dict[str, str], bearer: BearerSimulator, tmp_path: Path
) -> Iterator[tuple[Runtime, Runtime]]:
    path = config_with({"acquiring": oauth2_block(bearer.url, "ACQ_SECRET")}, tmp_path)
    settings = load_settings(path, env={**gateway_env, "ACQ_SECRET": SECRET})
    first = build_runtime(settings, lambda profile, generation: None)
    second = build_runtime(settings, lambda profile, generation: None)
    yield first, second
    first.close()
    second.close()


def test_a_bearer_login_is_kept_encrypted_for_the_life_its_answer_gave(
    hosts: tuple[Runtime, Runtime], bearer: BearerSimulator, engine: Engine
) -> None:
    runtime, _ = hosts
    outcome = runtime.refresher.refresh("acquiring", 0)

    assert isinstance(outcome, Refreshed) and outcome.generation == 1
    (issued,) = bearer.issued_tokens()
    record = runtime.store.load("acquiring")
    assert record.token == issued
    assert record.expires_at is not None and record.issued_at is not None
    assert 595 <= (record.expires_at - record.issued_at).total_seconds() <= 600
    with engine.connect() as conn:
        stored = conn.execute(select(tokens.c.token_ciphertext)).scalar_one()
    assert issued not in stored
    assert runtime.store.load("default").generation == 0  # Paynet's token untouched


def test_two_hosts_refreshing_one_integration_log_in_once(
    hosts: tuple[Runtime, Runtime], bearer: BearerSimulator
) -> None:
    bearer.configure(login_latency=0.5)
    outcomes: list[RefreshOutcome] = []
    threads = [
        threading.Thread(
            target=lambda r=runtime: outcomes.append(r.refresher.refresh("acquiring", 0))
        )
        for runtime in hosts
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Busy", "Refreshed"]
    assert any(isinstance(outcome, Busy) for outcome in outcomes)
    assert bearer.stats()["logins"] == 1


def test_refused_client_credentials_stop_logins_for_the_cooldown(
    hosts: tuple[Runtime, Runtime], bearer: BearerSimulator
) -> None:
    runtime, other = hosts
    bearer.configure(client_secret="rotated-at-the-provider")
    first = runtime.refresher.refresh("acquiring", 0)
    again = other.refresher.refresh("acquiring", 0)

    assert isinstance(first, Failed) and first.failure.cause is Cause.REFUSED
    assert first.retry_in is None  # permanent
    assert isinstance(again, Failed) and again.failure.cause is Cause.REFUSED
    assert bearer.stats()["logins_attempted"] == 1  # the second host did not try
    assert SECRET not in str(first.failure)
