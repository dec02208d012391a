"""The token store on PostgreSQL and on SQLite (the single-host default)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, delete, select

from tests.support.tokens import seed
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
    return TokenStore(backend, TokenCipher([Fernet.generate_key()]))


def test_an_unknown_profile_has_generation_zero_and_no_token(store: TokenStore) -> None:
    record = store.load("default")
    assert (record.generation, record.token, record.failure) == (0, None, None)


def test_saving_a_token_makes_the_next_generation_with_its_expiry_in_database_time(
    store: TokenStore,
) -> None:
    assert seed(store, "default", "tok-1", ttl=600) == 1
    record = store.load("default")
    assert (record.generation, record.token) == (1, "tok-1")
    assert record.issued_at is not None and record.seen_at is not None
    assert abs((record.seen_at - record.issued_at).total_seconds()) < 5
    assert record.expires_at == record.issued_at + timedelta(seconds=600)


def test_a_late_login_neither_overwrites_a_later_ones_token_nor_stays_once_it_saved(
    store: TokenStore,
) -> None:
    early, later = store.take_fence("default"), store.take_fence("default")
    assert store.save_token("default", "tok-later", later, ttl=None) == 1
    assert store.save_token("default", "tok-early", early, ttl=None) is None  # answered late
    assert (store.load("default").token, store.load("default").fence) == ("tok-later", later)
    first, second = store.take_fence("default"), store.take_fence("default")
    assert store.save_token("default", "tok-first", first, ttl=None) == 2  # saved first...
    assert store.save_token("default", "tok-second", second, ttl=None) == 3  # ...replaced
    record = store.load("default")
    assert (record.generation, record.token) == (3, "tok-second")


def test_the_token_is_stored_encrypted(store: TokenStore, backend: Engine) -> None:
    seed(store, "default", "plain-token-value")
    with backend.connect() as conn:
        stored = conn.execute(select(tokens.c.token_ciphertext)).scalar_one()
    assert "plain-token-value" not in stored


def test_a_failure_is_recorded_counted_and_cleared_by_the_next_token(store: TokenStore) -> None:
    store.record_failure("default", Cause.TIMEOUT, "read timeout", permanent=False)
    store.record_failure("default", Cause.REFUSED, "user invalid", permanent=True)
    failure = store.load("default").failure
    assert failure is not None
    assert (failure.cause, failure.permanent, failure.consecutive) == ("refused", True, 2)
    assert seed(store, "default", "tok") == 1
    assert store.load("default").failure is None


def test_profiles_keep_separate_tokens(store: TokenStore) -> None:
    seed(store, "a", "tok-a")
    seed(store, "b", "tok-b")
    seed(store, "b", "tok-b2")
    assert (store.load("a").generation, store.load("a").token) == (1, "tok-a")
    assert (store.load("b").generation, store.load("b").token) == (2, "tok-b2")


def test_a_token_no_key_decrypts_counts_as_missing(backend: Engine) -> None:
    writer = TokenStore(backend, TokenCipher([Fernet.generate_key()]))
    seed(writer, "default", "tok")
    reader = TokenStore(backend, TokenCipher([Fernet.generate_key()]))
    record = reader.load("default")
    assert (record.generation, record.token) == (1, None)
