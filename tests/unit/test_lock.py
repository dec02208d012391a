"""The lock files match pyproject.toml (tools/lock.py, CI's make lock-check), and drift fails."""

from __future__ import annotations

import copy

from tools.lock import LOCKS, ROOT, load_pyproject, pins, problems


def test_the_committed_lock_files_match_pyproject() -> None:
    pyproject = load_pyproject()
    for lock in LOCKS:
        assert problems(pyproject, lock, (ROOT / lock.path).read_text()) == []


def test_a_dependency_added_to_pyproject_without_make_lock_is_drift() -> None:
    pyproject = load_pyproject()
    changed = copy.deepcopy(pyproject)
    changed["project"]["dependencies"].append("tenacity>=8")  # type: ignore[index]
    lock = LOCKS[0]
    found = problems(changed, lock, (ROOT / lock.path).read_text())
    assert found == [
        f"{lock.path} was resolved from other dependencies than pyproject.toml's",
        f"{lock.path} pins no tenacity",
    ]


def test_a_pin_outside_a_bound_is_drift_even_with_the_digest_kept() -> None:
    lock = LOCKS[0]
    text = (ROOT / lock.path).read_text()
    version = pins(text)["celery"]
    found = problems(load_pyproject(), lock, text.replace(f"celery=={version}", "celery==6.0.0"))
    assert found == [f"{lock.path} pins celery==6.0.0, outside celery[redis]<6,>=5.5"]


def test_both_locks_pin_the_same_version_of_what_they_share() -> None:
    runtime, dev = (pins((ROOT / lock.path).read_text()) for lock in LOCKS)
    assert {name: runtime[name] for name in runtime} == {name: dev[name] for name in runtime}
