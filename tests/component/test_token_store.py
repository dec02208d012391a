"""The token store on PostgreSQL and on SQLite (the single-host default)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, delete, select

from worker.core.causes import Cause
from worker.db.engine import make_engine
from worker.db.schema import upgrade
from worker.db.tables import tokens
from worker.tokens.crypto import TokenCipher
from worker.tokens.store import TokenStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("engine")
    with engine.begin() as conn:
        conn.execute(delete(tokens))
    yield engine


@pytest.fixture
def store(backend: Engine) -> TokenStore:
    return TokenStore(backend, TokenCipher([Fernet.generate_key()]), clock=lambda: NOW)


def test_an_unknown_profile_has_generation_zero_and_no_token(store: TokenStore) -> None:
    record = store.load("default")
    assert (record.generation, record.token, record.failure) == (0, None, None)


def test_saving_a_token_makes_the_next_generation_with_its_expiry(store: TokenStore) -> None:
    assert store.save_token("default", "tok-1", expected_generation=0, ttl=600) == 1
    record = store.load("default")
    assert (record.generation, record.token) == (1, "tok-1")
    assert record.issued_at == NOW
    assert record.expires_at == NOW + timedelta(seconds=600)


def test_a_save_based_on_an_old_generation_changes_nothing(store: TokenStore) -> None:
    store.save_token("default", "tok-1", expected_generation=0, ttl=None)
    store.save_token("default", "tok-2", expected_generation=1, ttl=None)
    assert store.save_token("default", "late", expected_generation=1, ttl=None) is None
    assert store.save_token("default", "late", expected_generation=0, ttl=None) is None
    record = store.load("default")
    assert (record.generation, record.token) == (2, "tok-2")


def test_the_token_is_stored_encrypted(store: TokenStore, backend: Engine) -> None:
    store.save_token("default", "plain-token-value", expected_generation=0, ttl=None)
    with backend.connect() as conn:
        stored = conn.execute(select(tokens.c.token_ciphertext)).scalar_one()
    assert "plain-token-value" not in stored


def test_a_failure_is_recorded_counted_and_cleared_by_the_next_token(store: TokenStore) -> None:
    store.record_failure("default", Cause.TIMEOUT, "read timeout", permanent=False)
    store.record_failure("default", Cause.REFUSED, "user invalid", permanent=True)
    failure = store.load("default").failure
    assert failure is not None
    assert (failure.cause, failure.permanent, failure.consecutive) == ("refused", True, 2)
    assert store.save_token("default", "tok", expected_generation=0, ttl=None) == 1
    assert store.load("default").failure is None


def test_profiles_keep_separate_tokens(store: TokenStore) -> None:
    store.save_token("a", "tok-a", expected_generation=0, ttl=None)
    store.save_token("b", "tok-b", expected_generation=0, ttl=None)
    store.save_token("b", "tok-b2", expected_generation=1, ttl=None)
    assert (store.load("a").generation, store.load("a").token) == (1, "tok-a")
    assert (store.load("b").generation, store.load("b").token) == (2, "tok-b2")


def test_a_token_no_key_decrypts_counts_as_missing(backend: Engine) -> None:
    writer = TokenStore(backend, TokenCipher([Fernet.generate_key()]))
    writer.save_token("default", "tok", expected_generation=0, ttl=None)
    reader = TokenStore(backend, TokenCipher([Fernet.generate_key()]))
    record = reader.load("default")
    assert (record.generation, record.token) == (1, None)
