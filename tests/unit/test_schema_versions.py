"""Expand and contract: which schema revisions a code revision runs on, and which way to go."""

from __future__ import annotations

import pytest

from worker.db.schema import MIGRATIONS, code_chain
from worker.db.versions import Ahead, Behind, Migration, Usable, verdict

# Code at 0008: 0008 only adds (not needed), 0007 is needed, 0006 is not.
CHAIN = [Migration("0008", False), Migration("0007", True), Migration("0006", False)]


@pytest.mark.parametrize(
    ("current", "serves_from", "expected"),
    [
        ("0008", None, Usable()),
        ("0007", None, Usable()),  # behind by a migration the code does without
        ("0009", "0008", Usable()),  # ahead, and the newer schema serves this code
        ("0009", "0007", Usable()),
    ],
)
def test_a_worker_runs_on_its_head_or_a_schema_marked_compatible(
    current: str, serves_from: str | None, expected: Usable
) -> None:
    assert verdict(current, CHAIN, serves_from) == expected


def test_a_schema_behind_a_migration_the_code_needs_says_upgrade_the_database() -> None:
    assert verdict("0006", CHAIN, None) == Behind(
        "the database schema is at revision 0006, the code needs 0007 or later: "
        "run 'paynet-gateway db upgrade' first"
    )


def test_an_empty_database_says_upgrade_it() -> None:
    found = verdict(None, CHAIN, None)
    assert isinstance(found, Behind)
    assert "no schema" in found.message


@pytest.mark.parametrize(
    ("serves_from", "said"),
    [("0009", "it serves code from revision 0009 on"), (None, "it names none")],
)
def test_a_newer_schema_that_does_not_serve_this_code_says_roll_out_newer_code(
    serves_from: str | None, said: str
) -> None:
    assert verdict("0009", CHAIN, serves_from) == Ahead(
        f"the database schema is at revision 0009, newer than this code (at 0008) can use "
        f"({said}): roll out the newer release's code, or downgrade the database with it "
        "('paynet-gateway db downgrade 0008', run by the newer release)"
    )


def test_every_migration_from_0006_on_says_whether_its_code_needs_it_and_whom_it_serves() -> None:
    assert code_chain()[-1].revision == "0001"
    for path in sorted((MIGRATIONS / "versions").glob("0*.py")):
        if path.name >= "0006":
            text = path.read_text()
            assert "\nneeded_by_code = " in text, path.name
            assert "mark(revision, " in text, path.name
