"""Embedded Redis/PostgreSQL servers and the session stack built on them."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis
import sqlalchemy as sa

from devservices import (
    PostgresServer,
    RedisServer,
    RedisStartError,
    create_scratch_database,
    drop_scratch_database,
    flush_redis,
    services,
)
from devservices.ports import is_listening
from devservices.urls import postgres_url

REPO = Path(__file__).resolve().parents[2]
MACHINE_POSTGRES = "postgresql://127.0.0.1:5432/test"
MACHINE_REDIS = "redis://127.0.0.1:6379/0"


def process_is_gone(pid: int) -> bool:
    """Gone, or a zombie waiting for init to reap it (it can do nothing)."""
    try:
        status: str = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return True
    return bool(status == psutil.STATUS_ZOMBIE)


def processes_mentioning(text: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", text], capture_output=True, text=True, check=False)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def database_exists(admin_url: str, name: str) -> bool:
    engine = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
            return conn.execute(query, {"name": name}).scalar() is not None
    finally:
        engine.dispose()


def select_one(url: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            value: int = conn.execute(sa.text("SELECT 1")).scalar_one()
            return value
    finally:
        engine.dispose()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture
def no_shared_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)


# --- Redis -------------------------------------------------------------------


def test_embedded_redis_answers_ping_and_stores_values(redis_server: RedisServer) -> None:
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.ping()
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
    finally:
        client.close()


def test_embedded_redis_runs_without_persistence(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
    finally:
        client.close()


def test_redis_restart_keeps_the_port_and_answers_again(redis_server: RedisServer) -> None:
    port, old_pid = redis_server.port, redis_server.pid
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.set("before", "restart")
        redis_server.restart()
        assert redis_server.port == port
        assert redis_server.pid != old_pid
        assert client.ping()  # the same client reconnects; the data may be gone
    finally:
        client.close()


def test_killed_redis_comes_back_on_the_same_port_when_started(redis_server: RedisServer) -> None:
    port, pid = redis_server.port, redis_server.pid
    assert pid is not None
    redis_server.kill()
    assert not redis_server.running
    assert process_is_gone(pid)
    assert not is_listening("127.0.0.1", port)
    redis_server.start()
    assert redis_server.port == port
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.ping()
    finally:
        client.close()


def test_redis_stop_leaves_no_process_and_can_be_repeated() -> None:
    server = RedisServer()
    server.start()
    pid, directory = server.pid, server.directory
    assert pid is not None
    server.stop()
    server.stop()
    assert process_is_gone(pid)
    assert not server.running
    assert not directory.exists()  # a private temp dir is removed


def test_two_embedded_redis_servers_get_different_ports(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "a") as first, RedisServer(tmp_path / "b") as second:
        assert first.port != second.port


def test_redis_that_cannot_bind_fails_with_its_log_tail(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = RedisServer(tmp_path / "redis", port=port, start_timeout=5)
        with pytest.raises(RedisStartError, match="already in use") as failure:
            server.start()
        assert failure.value.port_in_use
        assert not server.running


def test_flush_redis_empties_only_the_named_database(redis_server: RedisServer) -> None:
    base = redis_server.url.rsplit("/", 1)[0]
    db0, db1 = redis.Redis.from_url(f"{base}/0"), redis.Redis.from_url(f"{base}/1")
    try:
        db0.set("k", "v")
        db1.set("k", "v")
        flush_redis(f"{base}/1")
        assert db0.get("k") == b"v"
        assert db1.get("k") is None
    finally:
        db0.close()
        db1.close()


# --- PostgreSQL --------------------------------------------------------------


def test_embedded_postgres_runs_a_query_through_sqlalchemy(
    postgres_server: PostgresServer,
) -> None:
    assert postgres_server.url.startswith("postgresql+psycopg2://postgres@/postgres?host=/")
    engine = sa.create_engine(postgres_server.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 40 + 2")).scalar_one() == 42
    finally:
        engine.dispose()


def test_embedded_postgres_stop_leaves_no_postmaster_process() -> None:
    server = PostgresServer()
    server.start()
    pid, data_dir = server.pid, server.data_dir
    assert pid is not None
    assert processes_mentioning(str(data_dir))
    backends = [proc.pid for proc in psutil.Process(pid).children(recursive=True)]
    server.stop()
    server.stop()
    assert processes_mentioning(str(data_dir)) == []
    assert all(process_is_gone(p) for p in [pid, *backends])
    assert not data_dir.parent.exists()  # a private temp dir is removed


def test_scratch_database_is_created_and_dropped_on_the_embedded_server(
    postgres_server: PostgresServer,
) -> None:
    url = create_scratch_database(postgres_server.url)
    name = postgres_url(url).database
    assert name is not None
    assert name.startswith("paynet_test_")
    assert len(name) == len("paynet_test_") + 8
    assert database_exists(postgres_server.url, name)

    lingering = sa.create_engine(url).connect()  # an open connection must not block the drop
    try:
        lingering.execute(sa.text("CREATE TABLE t (x int)"))
        lingering.commit()
        drop_scratch_database(url)
    finally:
        lingering.invalidate()
        lingering.engine.dispose()
    assert not database_exists(postgres_server.url, name)
    drop_scratch_database(url)  # already gone: still fine


def test_drop_refuses_a_database_that_is_not_a_scratch_database(
    postgres_server: PostgresServer,
) -> None:
    with pytest.raises(ValueError, match="refusing"):
        drop_scratch_database(postgres_server.url)
    assert database_exists(postgres_server.url, "postgres")


# --- the stack ---------------------------------------------------------------


@pytest.mark.usefixtures("no_shared_services")
def test_services_without_env_starts_and_stops_embedded_redis_and_postgres(
    tmp_path: Path,
) -> None:
    with services(tmp_path) as found:
        assert found.redis is not None
        redis_pid = found.redis.pid
        assert redis_pid is not None
        assert found.redis_url == found.redis.url
        client = redis.Redis.from_url(found.redis_url)
        assert client.ping()
        client.close()
        assert found.postgres_admin_url is not None
        assert "/paynet_test_" in found.database_url
        assert select_one(found.database_url) == 1
        socket_dir = postgres_url(found.postgres_admin_url).query["host"]
        assert isinstance(socket_dir, str)
        assert processes_mentioning(socket_dir)
    assert process_is_gone(redis_pid)
    assert processes_mentioning(socket_dir) == []


@pytest.mark.usefixtures("no_shared_services")
def test_services_without_postgres_uses_a_sqlite_file_in_the_workdir(tmp_path: Path) -> None:
    with services(tmp_path, want_postgres=False) as found:
        assert found.database_url == f"sqlite:///{tmp_path.resolve() / 'paynet.db'}"
        assert found.postgres_admin_url is None
        assert select_one(found.database_url) == 1
        assert found.redis is not None
        redis_pid = found.redis.pid
    assert redis_pid is not None
    assert process_is_gone(redis_pid)


@pytest.mark.usefixtures("no_shared_services")
def test_services_stop_everything_when_the_body_raises(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        services(tmp_path, want_postgres=False) as found,
    ):
        assert found.redis is not None
        redis_pid = found.redis.pid
        raise RuntimeError("boom")
    assert redis_pid is not None
    assert process_is_gone(redis_pid)


def test_services_use_a_sqlite_database_url_as_is(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'given.db'}")
    with services(tmp_path) as found:
        assert found.database_url == f"sqlite:///{tmp_path / 'given.db'}"
        assert found.postgres_admin_url is None


machine_services_reachable = is_listening("127.0.0.1", 5432) and is_listening("127.0.0.1", 6379)


@pytest.mark.skipif(
    not machine_services_reachable, reason="no PostgreSQL/Redis on 127.0.0.1:5432/6379"
)
def test_services_with_a_shared_postgres_create_and_drop_a_scratch_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", MACHINE_POSTGRES)
    monkeypatch.setenv("REDIS_URL", MACHINE_REDIS)
    with services(tmp_path) as found:
        assert found.redis is None
        assert found.redis_url == MACHINE_REDIS
        assert found.postgres_admin_url == "postgresql+psycopg2://127.0.0.1:5432/test"
        name = postgres_url(found.database_url).database
        assert name is not None
        assert name.startswith("paynet_test_")
        assert database_exists(found.postgres_admin_url, name)
        assert select_one(found.database_url) == 1
    assert not database_exists(found.postgres_admin_url, name)


# --- python -m devservices up ------------------------------------------------


def read_lines(proc: subprocess.Popen[bytes], count: int, timeout: float) -> list[str]:
    """Read ``count`` lines from an unbuffered stdout without blocking past ``timeout``."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffer = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while buffer.count(b"\n") < count and time.monotonic() < deadline:
            if selector.select(timeout=deadline - time.monotonic()):
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buffer += chunk
    return buffer.decode().splitlines()[:count]


def test_devservices_up_prints_urls_and_stops_on_sigterm() -> None:
    # Not pytest's tmp_path: pgserver opens the data dir's parents to its user.
    with tempfile.TemporaryDirectory(prefix="paynet-up-") as directory:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devservices", "up", "--dir", directory, "--postgres"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
        )
        try:
            lines = read_lines(proc, 2, timeout=30)
            env = dict(line.split("=", 1) for line in lines)
            assert set(env) == {"REDIS_URL", "DATABASE_URL"}, lines
            client = redis.Redis.from_url(env["REDIS_URL"])
            assert client.ping()
            client.close()
            assert select_one(env["DATABASE_URL"]) == 1
            redis_port = int(env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert not is_listening("127.0.0.1", redis_port)
        assert processes_mentioning(os.path.join(directory, "postgres")) == []


KILLED_SESSION = """
import time
from devservices import PostgresServer, RedisServer
postgres, redis_server = PostgresServer(), RedisServer()
postgres.start()
redis_server.start()
print(postgres.pid, postgres.data_dir, redis_server.pid, redis_server.directory, flush=True)
time.sleep(60)
"""


def test_servers_of_a_killed_session_do_not_outlive_it() -> None:
    session = subprocess.Popen(
        [sys.executable, "-c", KILLED_SESSION], cwd=REPO, stdout=subprocess.PIPE, bufsize=0
    )
    try:
        lines = read_lines(session, 1, timeout=30)
        assert lines, "the session did not start its servers"
    finally:
        session.kill()  # SIGKILL: no atexit, no cleanup of its own
        session.wait()
    postmaster, data_dir, redis_pid, redis_dir = lines[0].split()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (
        process_is_gone(int(postmaster)) and process_is_gone(int(redis_pid))
    ):
        time.sleep(0.1)
    assert process_is_gone(int(redis_pid))
    assert process_is_gone(int(postmaster))
    private_dirs = [Path(data_dir).parent, Path(redis_dir)]
    while time.monotonic() < deadline and any(d.exists() for d in private_dirs):
        time.sleep(0.1)
    assert not any(d.exists() for d in private_dirs)
