"""The token store: one row per profile in the database, the token column encrypted.

Fencing: every login takes a number as its answer arrives (``take_fence``, once Paynet has
issued its token), and its token is saved only where the stored one was saved under a smaller
number. So a token saved late (a database that was away for a moment, a login that outlived its
lock) never replaces one numbered after it. Numbers follow the answers as the database sees
them, which is the order Paynet issued the tokens in while one refresher holds the lock; two
logins overlapping (a lock lost) are ordered by when they were numbered. Each save makes the
next generation, which waiting tasks watch for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from worker.core.causes import Cause
from worker.core.clock import as_utc
from worker.core.redaction import register_token
from worker.db.clock import DatabaseClock, db_time
from worker.db.tables import tokens
from worker.tokens.crypto import TokenCipher, Undecryptable
from worker.tokens.record import Failure, TokenRecord

log = logging.getLogger("worker.token_store")


@dataclass(frozen=True)
class Rewrapped:
    """What ``rewrap_all`` did: how many tokens it re-encrypted, which no key could decrypt."""

    rotated: int
    undecryptable: tuple[str, ...]


class TokenStore:
    """Every time is the database's (``db_time`` in the statements); each read tells ``clock``
    the database's time, so that the decisions of this process use it too."""

    def __init__(self, engine: Engine, cipher: TokenCipher, clock: DatabaseClock | None = None):
        self.engine = engine
        self.cipher = cipher
        self.clock = clock or DatabaseClock(engine)

    def _now(self, plus: float = 0.0) -> ColumnElement[datetime]:
        return db_time(self.engine.dialect.name, plus)

    def load(self, profile: str) -> TokenRecord:
        query = select(tokens, self._now().label("seen_at")).where(tokens.c.profile == profile)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None:
                seen = as_utc(conn.execute(select(self._now())).scalar())
                self.clock.observe(seen)
                return TokenRecord(profile, generation=0, seen_at=seen)
        seen = as_utc(row.seen_at)
        self.clock.observe(seen)
        failure = None
        if row.failure_cause is not None:
            failure = Failure(
                row.failure_cause,
                row.failure_detail or "",
                as_utc(row.failure_at) or seen or self.clock.now(),
                bool(row.failure_permanent),
                row.consecutive_failures,
            )
        return TokenRecord(
            profile,
            row.generation,
            self._decrypt(profile, row.token_ciphertext, row.generation),
            as_utc(row.issued_at),
            as_utc(row.expires_at),
            failure,
            seen,
            row.token_fence,
        )

    def _decrypt(self, profile: str, ciphertext: str | None, generation: int) -> str | None:
        if ciphertext is None:
            return None
        try:
            token = self.cipher.decrypt(ciphertext)
        except Undecryptable:
            log.warning(
                "token of profile %s (generation %d) cannot be decrypted with the configured "
                "keys; it counts as missing and a new login will replace it",
                profile,
                generation,
            )
            return None
        register_token(token)
        return token

    def _ensure_row(self, conn: Connection, profile: str) -> None:
        try:
            with conn.begin_nested():
                conn.execute(insert(tokens).values(profile=profile, updated_at=self._now()))
        except IntegrityError:
            pass

    def take_fence(self, profile: str) -> int:
        """The number of a login whose answer just arrived: one more than any before. One
        statement where the row exists (it is on the way from a login to its token)."""
        statement = (
            update(tokens)
            .where(tokens.c.profile == profile)
            .values(login_fence=tokens.c.login_fence + 1)
            .returning(tokens.c.login_fence)
        )
        with self.engine.begin() as conn:
            fence = conn.execute(statement).scalar()
            if fence is None:
                self._ensure_row(conn, profile)
                fence = conn.execute(statement).scalar_one()
            return int(fence)

    def save_token(self, profile: str, token: str, fence: int, ttl: float | None) -> int | None:
        """Store the token of the login that took ``fence`` as the next generation, unless a
        later login's token is stored already; the new generation, or None. Run again after a
        dropped connection that did commit, it finds its own fence and says the same."""
        register_token(token)
        values = {
            "token_ciphertext": self.cipher.encrypt(token),
            "generation": tokens.c.generation + 1,
            "token_fence": fence,
            "issued_at": self._now(),
            "expires_at": self._now(ttl) if ttl is not None else None,
            "updated_at": self._now(),
            "failure_cause": None,
            "failure_detail": None,
            "failure_at": None,
            "failure_permanent": False,
            "consecutive_failures": 0,
        }
        with self.engine.begin() as conn:  # the row exists: take_fence made it
            saved = conn.execute(
                update(tokens)
                .where(tokens.c.profile == profile, tokens.c.token_fence < fence)
                .values(**values)
                .returning(tokens.c.generation)
            ).scalar()
            if saved is not None:
                return int(saved)
            stored = conn.execute(
                select(tokens.c.generation, tokens.c.token_fence).where(tokens.c.profile == profile)
            ).one_or_none()
            if stored is None or stored.token_fence != fence:
                return None
            return int(stored.generation)

    def record_failure(self, profile: str, cause: Cause, detail: str, permanent: bool) -> None:
        with self.engine.begin() as conn:
            self._ensure_row(conn, profile)
            conn.execute(
                update(tokens)
                .where(tokens.c.profile == profile)
                .values(
                    failure_cause=cause.value,
                    failure_detail=detail,
                    failure_at=self._now(),
                    failure_permanent=permanent,
                    consecutive_failures=tokens.c.consecutive_failures + 1,
                    updated_at=self._now(),
                )
            )

    def clear_failure(self, profile: str) -> None:
        """An operator's forced refresh lifts a permanent failure before trying again."""
        with self.engine.begin() as conn:
            conn.execute(
                update(tokens)
                .where(tokens.c.profile == profile)
                .values(failure_permanent=False, updated_at=self._now())
            )

    def rewrap_all(self) -> Rewrapped:
        """Re-encrypt every stored token under the first key (``token rotate-key``)."""
        with self.engine.connect() as conn:
            profiles = (
                conn.execute(select(tokens.c.profile).where(tokens.c.token_ciphertext.is_not(None)))
                .scalars()
                .all()
            )
        rotated, undecryptable = 0, []
        for profile in profiles:
            outcome = self._rewrap(profile)
            if outcome == "rotated":
                rotated += 1
            elif outcome == "undecryptable":
                undecryptable.append(profile)
        return Rewrapped(rotated, tuple(undecryptable))

    def _rewrap(self, profile: str) -> Literal["rotated", "undecryptable", "gone"]:
        """Rewrite the row only if it still holds the ciphertext read: a token a worker saved
        meanwhile is never replaced by the re-encryption of the older one (it is read again)."""
        while True:
            with self.engine.begin() as conn:
                ciphertext = conn.execute(
                    select(tokens.c.token_ciphertext).where(tokens.c.profile == profile)
                ).scalar()
                if ciphertext is None:
                    return "gone"
                try:
                    rotated = self.cipher.rotate(ciphertext)
                except Undecryptable:
                    return "undecryptable"
                changed = conn.execute(
                    update(tokens)
                    .where(tokens.c.profile == profile, tokens.c.token_ciphertext == ciphertext)
                    .values(token_ciphertext=rotated)
                ).rowcount
            if changed:
                return "rotated"
