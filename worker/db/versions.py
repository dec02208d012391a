"""Whether this code can run on the database's schema revision: expand and contract (pure).

A rollout has two releases running at once, and a rollback runs the older one on the newer
schema, so "exactly at the code's head" is too strict. Two marks make it safe:

- Each migration file says whether the code of its release needs it (``needed_by_code``). One
  that only adds (a table, an index the code can do without) is marked ``False``: the new code
  also runs on the schema before it, so pods may roll out before ``db upgrade``.
- Each migration records, in the database (``worker/db/compat.py``), the oldest code revision
  that can still use the schema it leaves. Older code cannot know a migration written after it,
  so it reads that row: a rollback starts when the newer schema says it serves the older code.

::

    database at the code's head ............................ starts
    database behind, every newer migration not needed ...... starts
    database behind otherwise .............................. SchemaBehind: db upgrade
    database ahead, its row names this code's head or older  starts
    database ahead otherwise ............................... SchemaAhead: newer code, or downgrade
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    revision: str
    needed_by_code: bool


@dataclass(frozen=True)
class Usable:
    """The code can run on this schema."""


@dataclass(frozen=True)
class Behind:
    """Upgrade the database."""

    message: str


@dataclass(frozen=True)
class Ahead:
    """Roll out newer code, or downgrade the database with the newer release."""

    message: str


Verdict = Usable | Behind | Ahead


def verdict(current: str | None, chain: Sequence[Migration], serves_from: str | None) -> Verdict:
    """``current``: the database's revision; ``chain``: the code's migrations, its head first;
    ``serves_from``: the oldest code revision the database's own row says can use it."""
    head = chain[0].revision
    known = [migration.revision for migration in chain]
    if current is None:
        return Behind(f"the database has no schema, the code needs {head}: {_UPGRADE}")
    if current in known:
        newer = chain[: known.index(current)]
        needed = [migration.revision for migration in newer if migration.needed_by_code]
        if not needed:
            return Usable()
        return Behind(
            f"the database schema is at revision {current}, the code needs {needed[0]} "
            f"or later: {_UPGRADE}"
        )
    if serves_from is not None and serves_from in known:
        return Usable()
    serves = f"it serves code from revision {serves_from} on" if serves_from else "it names none"
    return Ahead(
        f"the database schema is at revision {current}, newer than this code (at {head}) can use "
        f"({serves}): roll out the newer release's code, or downgrade the database with it "
        f"('paynet-gateway db downgrade {head}', run by the newer release)"
    )


_UPGRADE = "run 'paynet-gateway db upgrade' first"
