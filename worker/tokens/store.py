"""The token store: one row per profile in the database, the token column encrypted.

Every write is a single conditional statement on the generation, so a login answered after its
lock was lost can never overwrite a newer token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from worker.core.causes import Cause
from worker.core.clock import Clock, as_utc, utcnow
from worker.core.redaction import register_token
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
    def __init__(self, engine: Engine, cipher: TokenCipher, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.cipher = cipher
        self.clock = clock

    def load(self, profile: str) -> TokenRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.profile == profile)).first()
        if row is None:
            return TokenRecord(profile, generation=0)
        failure = None
        if row.failure_cause is not None:
            failure = Failure(
                row.failure_cause,
                row.failure_detail or "",
                as_utc(row.failure_at) or self.clock(),
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

    def save_token(
        self, profile: str, token: str, expected_generation: int, ttl: float | None
    ) -> int | None:
        """Store a new token as generation ``expected_generation + 1``; None if it moved on."""
        register_token(token)
        now = self.clock()
        values = {
            "token_ciphertext": self.cipher.encrypt(token),
            "generation": expected_generation + 1,
            "issued_at": now,
            "expires_at": now + timedelta(seconds=ttl) if ttl else None,
            "updated_at": now,
            "failure_cause": None,
            "failure_detail": None,
            "failure_at": None,
            "failure_permanent": False,
            "consecutive_failures": 0,
        }
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(tokens)
                .where(tokens.c.profile == profile, tokens.c.generation == expected_generation)
                .values(**values)
            ).rowcount
            if changed:
                return expected_generation + 1
        if expected_generation != 0:
            return None
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(tokens).values(profile=profile, **values))
        except IntegrityError:
            return None
        return 1

    def record_failure(self, profile: str, cause: Cause, detail: str, permanent: bool) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(tokens)
                .where(tokens.c.profile == profile)
                .values(
                    failure_cause=cause.value,
                    failure_detail=detail,
                    failure_at=now,
                    failure_permanent=permanent,
                    consecutive_failures=tokens.c.consecutive_failures + 1,
                    updated_at=now,
                )
            ).rowcount
            if not changed:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(tokens).values(
                                profile=profile,
                                generation=0,
                                updated_at=now,
                                failure_cause=cause.value,
                                failure_detail=detail,
                                failure_at=now,
                                failure_permanent=permanent,
                                consecutive_failures=1,
                            )
                        )
                except IntegrityError:
                    pass

    def clear_failure(self, profile: str) -> None:
        """An operator's forced refresh lifts a permanent failure before trying again."""
        with self.engine.begin() as conn:
            conn.execute(
                update(tokens)
                .where(tokens.c.profile == profile)
                .values(failure_permanent=False, updated_at=self.clock())
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
