"""Putting a token in the store as a login would: take a fence, then save under it."""

from __future__ import annotations

from worker.tokens.store import TokenStore


def seed(store: TokenStore, profile: str, token: str, ttl: float | None = None) -> int | None:
    """Store ``token`` as the newest login's; the generation it became."""
    return store.save_token(profile, token, store.take_fence(profile), ttl)
