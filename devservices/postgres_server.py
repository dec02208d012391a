"""A real PostgreSQL server from the ``pgserver`` wheel, reached over a unix socket.

Tests and the demo must run where only Python is installed; pgserver ships the
PostgreSQL binaries, runs ``initdb`` and ``pg_ctl``, and when run as root
switches to its own system user ``pgserver`` by itself. It listens on no TCP
port at all, so concurrent sessions cannot collide.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import psutil

from devservices.urls import postgres_url, render_url
from devservices.watchdog import dismiss, spawn_watchdog

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer as PgserverHandle

_STOP_TIMEOUT = 10.0


class PostgresStartError(RuntimeError):
    """pgserver could not start PostgreSQL; the message carries the log tail."""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _get_server(pgdata: Path, cleanup_mode: str) -> PgserverHandle:
    # Imported here: pgserver is a test/dev-only dependency. platformdirs warns
    # at its import when XDG_RUNTIME_DIR is unset (root shells, CI); the
    # fallback it picks works, so keep the noise out.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    return get_server(pgdata, cleanup_mode=cleanup_mode)


class PostgresServer:
    """An embedded PostgreSQL; ``.url`` is the ``postgres`` database via psycopg2.

    Without ``data_dir`` the cluster lives in a private temp dir directly under
    the system temp dir, deleted on ``stop()``: pgserver widens the permissions
    of every parent of the data dir for its ``pgserver`` user, which must not
    happen inside pytest's 0700 basetemp (pytest resets it, cutting off a
    concurrent session's server), and the socket path must stay short. With
    ``data_dir`` the cluster is kept between runs (faster restarts for ``up``).
    A watchdog child stops the server should this process die without
    cleaning up (SIGKILL), since ``atexit`` cannot help then.
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self._temp_root: Path | None = None
        self._data_dir = None if data_dir is None else Path(data_dir).resolve()
        self._server: PgserverHandle | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._owner_pid = os.getpid()
        self._lock = threading.Lock()
        atexit.register(self.stop)

    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            raise RuntimeError("PostgresServer is not started")
        return self._data_dir

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database, e.g.
        ``postgresql+psycopg2://postgres@/postgres?host=/tmp/paynet-pg-x/pgdata``."""
        return render_url(postgres_url(self._require().get_uri()))

    @property
    def pid(self) -> int | None:
        """Pid of the postmaster, None when stopped."""
        server = self._server
        return None if server is None else server.get_pid()

    @property
    def running(self) -> bool:
        pid = self.pid
        if pid is None:
            return False
        try:
            return not _is_dead(psutil.Process(pid))
        except psutil.NoSuchProcess:
            return False

    def start(self) -> None:
        """Init the cluster if needed and start it; a no-op if running."""
        with self._lock:
            if self._server is not None:
                return
            self._owner_pid = os.getpid()
            pgdata = self._prepare_data_dir()
            mode = "delete" if self._temp_root is not None else "stop"
            try:
                server = _get_server(pgdata, mode)
            except Exception as exc:
                log = _tail(pgdata / "log")
                self._remove_temp_root()
                raise PostgresStartError(f"PostgreSQL did not start in {pgdata}:\n{log}") from exc
            self._server = server
            pid = server.get_pid()
            if pid is not None:
                self._watchdog = spawn_watchdog(pid, str(pgdata), self._temp_root)

    def stop(self) -> None:
        """Stop the postmaster and every backend; safe to call repeatedly.

        pgserver's own cleanup is tried first; it skips the stop when its
        handle file lists other (even long dead) pids, so whatever is still
        alive afterwards gets a fast-shutdown signal, then SIGKILL.
        """
        with self._lock:
            server = self._server
            if server is None or os.getpid() != self._owner_pid:
                return
            self._server = None
            if self._watchdog is not None:
                dismiss(self._watchdog)
                self._watchdog = None
            processes = self._process_tree(server.get_pid())
            try:
                server.cleanup()
            finally:
                self._reap(processes)
                # pgserver caches handles per data dir and keeps a stale one
                # when its cleanup bailed out; the next start must not reuse it.
                type(server)._instances.pop(server.pgdata, None)
                self._remove_temp_root()

    def restart(self) -> None:
        """Restart the postmaster in place (same data, same socket): every connection drops,
        as when PostgreSQL restarts in production. ``pg_ctl`` reuses the options it started with."""
        from pgserver import _commands

        pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]  # made at import, one per binary
        with self._lock:
            server = self._require()
            if self._watchdog is not None:
                dismiss(self._watchdog)
            args = ["-w", "-m", "fast", "-l", str(server.log), "restart"]
            pg_ctl(args, pgdata=server.pgdata, user=server.system_user, timeout=60)
            pid = server.get_pid()
            self._watchdog = spawn_watchdog(pid, str(server.pgdata), self._temp_root)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PostgresServer(data_dir={str(self._data_dir)!r}, pid={self.pid})"

    def _require(self) -> PgserverHandle:
        if self._server is None:
            raise RuntimeError("PostgresServer is not started")
        return self._server

    def _prepare_data_dir(self) -> Path:
        if self._data_dir is None or self._temp_root is not None:
            self._temp_root = Path(tempfile.mkdtemp(prefix="paynet-pg-"))
            self._data_dir = self._temp_root / "pgdata"
        self._data_dir.parent.mkdir(parents=True, exist_ok=True)
        return self._data_dir

    def _remove_temp_root(self) -> None:
        if self._temp_root is not None:
            shutil.rmtree(self._temp_root, ignore_errors=True)

    @staticmethod
    def _process_tree(pid: int | None) -> list[psutil.Process]:
        if pid is None:
            return []
        try:
            postmaster = psutil.Process(pid)
            return [postmaster, *postmaster.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    @staticmethod
    def _reap(processes: list[psutil.Process]) -> None:
        alive = _wait_dead(processes, 2.0)
        for proc in alive:  # SIGINT is PostgreSQL's "fast shutdown"
            _signal(proc, signal.SIGINT)
        alive = _wait_dead(alive, _STOP_TIMEOUT)
        for proc in alive:
            _signal(proc, signal.SIGKILL)
        _wait_dead(alive, _STOP_TIMEOUT)


def _is_dead(proc: psutil.Process) -> bool:
    # The postmaster is not our child: once it exits it stays a zombie until
    # the machine's init reaps it (about 1 s on some sandboxes). It is dead.
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_dead(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; return those still alive."""
    deadline = time.monotonic() + timeout
    alive = [proc for proc in processes if not _is_dead(proc)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [proc for proc in alive if not _is_dead(proc)]
    return alive


def _signal(proc: psutil.Process, sig: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.send_signal(sig)
