"""Token keys: where they come from, rotating them, and what happens without one."""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from celery import Celery
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from simulator import Simulator
from tests.conftest import call
from tests.gateway.test_storm import REVOCATIONS, run_storm
from tests.support.logins import assert_only_the_refresh_task_logs_in
from tests.support.tokens import seed
from tests.support.workers import REPO_ROOT, WorkerPool
from worker.db.tables import tokens
from worker.settings import SecuritySettings
from worker.tokens.crypto import KEY_VARIABLE, TokenCipher, TokenKeyError, cipher_from_settings
from worker.tokens.store import TokenStore


def key() -> bytes:
    return Fernet.generate_key()


def cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ciphertexts(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(tokens.c.profile, tokens.c.token_ciphertext)).all()
    return {profile: ciphertext for profile, ciphertext in rows}


def test_the_development_key_is_created_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = cipher_from_settings(SecuritySettings(), tmp_path)
    key_file = tmp_path / ".paynet-token-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    written = key_file.read_bytes()
    ciphertext = first.encrypt("tok-abc")

    second = cipher_from_settings(SecuritySettings(), tmp_path)
    assert second.decrypt(ciphertext) == "tok-abc"
    assert key_file.read_bytes() == written


def test_production_without_a_key_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(TokenKeyError, match=KEY_VARIABLE):
        cipher_from_settings(SecuritySettings(environment="production"), tmp_path)
    assert not (tmp_path / ".paynet-token-key").exists()


def test_a_malformed_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(TokenKeyError) as caught:
        TokenCipher([b"not-a-fernet-key-Qz93"])
    assert KEY_VARIABLE in str(caught.value)
    assert "Qz93" not in str(caught.value)


def test_a_worker_in_production_without_a_key_exits_naming_the_variable(
    start_workers: Callable[..., WorkerPool],
) -> None:
    env = {"PAYNET_ENV": "production", "PAYNET_TOKEN_KEY": "", "PAYNET_USERNAME": "agent-1"}
    workers = start_workers(env=env, wait=False)
    worker = workers.workers[0]
    returncode = worker.popen.wait(timeout=60)
    assert returncode != 0
    assert f"cannot start: security.token_keys ({KEY_VARIABLE}) is not set" in worker.log()
    assert "Traceback" not in worker.log()


@pytest.mark.parametrize("action", ["status", "rotate-key"])
def test_the_cli_in_production_without_a_key_exits_naming_the_variable(
    gateway_env: dict[str, str], action: str
) -> None:
    env = {**gateway_env, "PAYNET_ENV": "production", "PAYNET_TOKEN_KEY": ""}
    done = cli(env, "token", action)
    assert done.returncode == 2
    assert KEY_VARIABLE in done.stderr
    assert "Traceback" not in done.stderr


def test_a_token_under_an_old_key_is_read_after_a_new_key_is_put_first(
    engine: Engine, clean: None
) -> None:
    old, new = key(), key()
    seed(TokenStore(engine, TokenCipher([old])), "default", "tok-old-key", None)
    assert TokenStore(engine, TokenCipher([new, old])).load("default").token == "tok-old-key"


def test_rotate_key_re_encrypts_every_stored_token_with_the_first_key(
    engine: Engine, gateway_env: dict[str, str]
) -> None:
    old, new = key(), key()
    before = TokenStore(engine, TokenCipher([old]))
    seed(before, "default", "tok-default-1", None)
    seed(before, "other", "tok-other-1", None)
    stored = ciphertexts(engine)

    done = cli(
        {**gateway_env, KEY_VARIABLE: f"{new.decode()},{old.decode()}"}, "token", "rotate-key"
    )
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 2 token(s)" in done.stdout

    rotated = ciphertexts(engine)
    assert all(rotated[profile] != stored[profile] for profile in stored)
    new_only = TokenStore(engine, TokenCipher([new]))
    assert new_only.load("default").token == "tok-default-1"
    assert new_only.load("other").token == "tok-other-1"
    assert TokenStore(engine, TokenCipher([old])).load("default").token is None
    output = done.stdout + done.stderr
    for secret in (old.decode(), new.decode(), "tok-default-1", "tok-other-1"):
        assert secret not in output


def test_rotate_key_names_the_tokens_no_key_decrypts_and_leaves_them_as_they_are(
    engine: Engine, gateway_env: dict[str, str], token_key: str
) -> None:
    seed(TokenStore(engine, TokenCipher([key()])), "lost", "tok-lost-1")
    seed(TokenStore(engine, TokenCipher([token_key.encode()])), "default", "tok-1")
    stored = ciphertexts(engine)

    keys = f"{key().decode()},{token_key}"
    done = cli({**gateway_env, KEY_VARIABLE: keys}, "token", "rotate-key")
    assert done.returncode == 2
    assert "re-encrypted 1 token(s)" in done.stdout
    assert "1 token(s) could not be decrypted" in done.stderr
    assert "profiles: lost" in done.stderr
    assert ciphertexts(engine)["lost"] == stored["lost"]


@pytest.mark.parametrize("twice", [False, True], ids=["one key", "the same key twice"])
def test_rotate_key_with_a_single_key_refuses_as_there_is_nothing_to_rotate_to(
    engine: Engine, gateway_env: dict[str, str], token_key: str, twice: bool
) -> None:
    seed(TokenStore(engine, TokenCipher([token_key.encode()])), "default", "tok-1")
    stored = ciphertexts(engine)
    keys = f"{token_key},{token_key}" if twice else token_key

    done = cli({**gateway_env, KEY_VARIABLE: keys}, "token", "rotate-key")

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"paynet-gateway: {KEY_VARIABLE} holds a single key: nothing to rotate to "
        "(put the new key first and the old one after it; see --help)"
    ]
    assert ciphertexts(engine) == stored


def test_rotate_key_help_gives_the_two_phases_of_a_rotation(gateway_env: dict[str, str]) -> None:
    done = cli(gateway_env, "token", "rotate-key", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert f"Phase 1: add the new key second ({KEY_VARIABLE}=old,new)" in text
    assert "Phase 2, once all of them have both keys: put it first (new,old)" in text
    assert "then run this command" in text


def test_a_token_under_an_unknown_key_is_replaced_by_exactly_one_login(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    token_key: str,
) -> None:
    seed(TokenStore(engine, TokenCipher([key()])), "default", "tok-lost-key")
    workers = start_workers(processes=1, concurrency=2)

    assert call(producer, params={"after": "lost key"}).get(timeout=30) == {"after": "lost key"}
    assert simulator.stats()["logins_succeeded"] == 1
    warnings = [line for line in workers.logs().splitlines() if " WARNING " in line]
    assert any("cannot be decrypted" in line for line in warnings)
    record = TokenStore(engine, TokenCipher([token_key.encode()])).load("default")
    assert record.generation == 2
    assert record.token == simulator.issued_tokens()[-1]


def test_the_development_key_file_follows_the_umask_never_wider(tmp_path: Path) -> None:
    previous = os.umask(0o000)
    try:
        cipher_from_settings(SecuritySettings(), tmp_path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / ".paynet-token-key").stat().st_mode) == 0o600


def test_a_key_file_others_can_read_is_used_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = tmp_path / ".paynet-token-key"
    key_file.write_bytes(key())
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="worker.crypto"):
        cipher_from_settings(SecuritySettings(), tmp_path)
    assert any("chmod 600" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


class SaveDuringRotation(TokenCipher):
    """Lets a worker save a new token between rotate-key's read and its write, once."""

    def __init__(self, keys: list[bytes], worker: TokenStore) -> None:
        super().__init__(keys)
        self.worker = worker
        self.saved = False

    def rotate(self, ciphertext: str) -> str:
        if not self.saved:
            self.saved = True
            assert seed(self.worker, "default", "tok-saved-meanwhile", None) == 2
        return super().rotate(ciphertext)


def test_rotate_key_never_overwrites_a_token_saved_while_it_runs(
    engine: Engine, clean: None
) -> None:
    old, new = key(), key()
    worker = TokenStore(engine, TokenCipher([old]))
    seed(worker, "default", "tok-before", None)

    done = TokenStore(engine, SaveDuringRotation([new, old], worker)).rewrap_all()

    assert done.rotated == 1
    record = TokenStore(engine, TokenCipher([new])).load("default")
    assert (record.generation, record.token) == (2, "tok-saved-meanwhile")


CALL_SUCCEEDED = re.compile(r"Task paynet\.call\[[0-9a-f-]+\] succeeded in ")

# Each phase of a rotation as the fleet goes through it, one worker restarted ahead of the
# other: (worker A's keys, worker B's keys, whether rotate-key has run). The fleet before the
# rotation saved the token under the old key.
ROTATION = {
    "phase 1, the new key second on one worker": ("old", "old,new", False),
    "phase 2, the new key first on one worker": ("old,new", "new,old", False),
    "phase 3, after rotate-key, the old key dropped on one worker": ("new,old", "new", True),
}


@pytest.mark.parametrize(("a", "b", "rotated"), ROTATION.values(), ids=ROTATION.keys())
def test_two_workers_mid_rotation_read_each_others_tokens_and_seals_through_a_storm(
    start_workers: Callable[..., WorkerPool],
    producer: Celery,
    simulator: Simulator,
    engine: Engine,
    gateway_env: dict[str, str],
    a: str,
    b: str,
    rotated: bool,
) -> None:
    """Waits retried, refreshes requested and tokens saved by either worker, run by the other:
    every call succeeds, one login per revocation, no seal refused, no token unreadable."""
    keys = {"old": key().decode(), "new": key().decode()}
    fleet = {
        name: ",".join(keys[k] for k in spec.split(",")) for name, spec in (("a", a), ("b", b))
    }
    # Read by every worker, and past its expiry: one login replaces it, no rejection.
    stale = "tok-expired-before-the-rotation"
    seed(TokenStore(engine, TokenCipher([keys["old"].encode()])), "default", stale, 1e-3)
    if rotated:
        phase_2 = {**gateway_env, KEY_VARIABLE: f"{keys['new']},{keys['old']}"}
        assert cli(phase_2, "token", "rotate-key").returncode == 0
        assert (
            TokenStore(engine, TokenCipher([keys["new"].encode()])).load("default").token == stale
        )
    pools = [
        start_workers(processes=1, concurrency=8, env={KEY_VARIABLE: fleet[name]}, wait=False)
        for name in ("a", "b")
    ]
    for pool in pools:
        pool.wait_ready()

    run_storm(producer, simulator)

    logs = [pool.logs() for pool in pools]
    assert all(CALL_SUCCEEDED.search(log) for log in logs), "a worker ran no call"
    assert_only_the_refresh_task_logs_in("\n".join(logs), 1 + REVOCATIONS)
    for log in logs:
        assert "InvalidRequest" not in log
        assert "cannot be decrypted" not in log
