"""``paynet-gateway token ...``: what operators may see of tokens (never the token itself)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from worker.calls.refreshes import RefreshRequest
from worker.cli.common import FAILED, CommandError, Subparsers, add_command, database_errors
from worker.config import REPO_ROOT, get_settings
from worker.core.clock import utcnow
from worker.db.engine import make_engine
from worker.db.schema import SchemaBehind, ensure_current
from worker.tokens.crypto import (
    KEY_VARIABLE,
    TokenKeyError,
    cipher_from_settings,
    new_key,
    seal_from_settings,
)
from worker.tokens.record import Failure
from worker.tokens.store import TokenStore


def register(subparsers: Subparsers) -> None:
    token = add_command(subparsers, "token", "Inspect and manage Paynet tokens.")
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = add_command(actions, "status", "Per profile: generation, age, expiry, last failure.")
    status.set_defaults(handler=run_status)
    refresh = add_command(
        actions, "refresh", "Force a login now, through the same lock and login budget."
    )
    refresh.epilog = "Needs a running worker: the refresh task runs there, under the lock."
    refresh.add_argument("--profile", default="default")
    refresh.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the new generation"
    )
    refresh.set_defaults(handler=run_refresh)
    add_command(actions, "new-key", "Print a new token encryption key.").set_defaults(
        handler=run_new_key
    )
    add_command(
        actions,
        "rotate-key",
        f"Re-encrypt every stored token with the first key of {KEY_VARIABLE}.",
    ).set_defaults(handler=run_rotate_key)


@contextmanager
def _store(doing: str) -> Iterator[TokenStore]:
    """The token store, its schema checked; every failure a one-line reason."""
    settings = get_settings()
    url = settings.database.url
    try:
        cipher = cipher_from_settings(settings.security, REPO_ROOT)
    except TokenKeyError as exc:
        raise CommandError(str(exc)) from None
    engine = make_engine(url)
    try:
        with database_errors(url, doing):
            ensure_current(engine)
            yield TokenStore(engine, cipher)
    except SchemaBehind as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def run_status(_args: argparse.Namespace) -> int:
    now = utcnow()
    with _store("token status") as store:
        for profile in get_settings().paynet.profiles:
            record = store.load(profile)
            age = f"{(now - record.issued_at).total_seconds():.0f}s" if record.issued_at else "-"
            rejected = _last_rejection(profile)
            state = "present" if record.token else "none"
            if record.token and rejected and rejected[0] == record.generation:
                state = "rejected"  # Paynet refused it; a refresh is on its way or failed
            print(
                f"profile={profile} token={state} generation={record.generation} "
                f"issued={_when(record.issued_at)} age={age} expires={_when(record.expires_at)}"
            )
            if rejected:
                print(f"  last rejection: generation {rejected[0]} at {rejected[1]}")
            failure = record.failure
            if failure is not None:
                kind = "permanent" if failure.permanent else "transient"
                print(
                    f"  last failure: cause={failure.cause} ({kind}) at={_when(failure.at)} "
                    f"consecutive={failure.consecutive}: {failure.detail}"
                )
    return 0


def _last_rejection(profile: str) -> tuple[int, str] | None:
    """What the workers noted in Redis of the last rejected token; None if none or unreachable."""
    from redis import Redis

    from worker.core.outages import Unavailable
    from worker.tokens.coordination import Coordinator

    settings = get_settings()
    client = Redis.from_url(settings.redis.url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return Coordinator(client, settings.token, lambda *_: None).last_rejection(profile)
    except Unavailable:
        return None
    finally:
        client.close()


def run_refresh(args: argparse.Namespace) -> int:
    """Lift a refusal's cool-down and log in now; report the new generation or the failure."""
    from worker import lifecycle
    from worker.celery import app

    if args.profile not in get_settings().paynet.profiles:
        raise CommandError(f"unknown profile {args.profile!r}")
    with _store("token refresh") as store:
        before = store.load(args.profile)
        store.clear_failure(args.profile)
        request = RefreshRequest(args.profile, before.generation, force=True, operator=True)
        seal = seal_from_settings(get_settings().security, REPO_ROOT)
        try:
            lifecycle.send_refresh(app, seal, request)
        except Exception as exc:  # kombu's OperationalError: the broker is unreachable
            raise CommandError(f"cannot reach the broker: {type(exc).__name__}", FAILED) from None
        return _await_generation(store, args.profile, before.generation, before.failure, args)


def _await_generation(
    store: TokenStore, profile: str, before: int, failure: Failure | None, args: argparse.Namespace
) -> int:
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        record = store.load(profile)
        if record.generation > before:
            print(f"profile={profile} refreshed: generation {record.generation}")
            return 0
        latest = record.failure
        if latest is not None and _new_failure(failure, latest):
            raise CommandError(f"refresh failed: cause={latest.cause}: {latest.detail}", FAILED)
        time.sleep(0.2)
    last = store.load(profile).failure
    reason = f"; last failure: cause={last.cause}: {last.detail}" if last else ""
    raise CommandError(
        f"no new token within {args.timeout:g} s (is a worker running?){reason}", FAILED
    )


def _new_failure(before: Failure | None, now: Failure | None) -> bool:
    """A failure recorded after the command began (the store counts and stamps each one)."""
    if now is None:
        return False
    return before is None or (now.at, now.consecutive) != (before.at, before.consecutive)


def run_new_key(_args: argparse.Namespace) -> int:
    print(new_key())
    return 0


def run_rotate_key(_args: argparse.Namespace) -> int:
    """Prints counts and profile names only: never a key, never a token."""
    with _store("token rotate-key") as store:
        done = store.rewrap_all()
    print(f"re-encrypted {done.rotated} token(s) with the first key of {KEY_VARIABLE}")
    if done.undecryptable:
        raise CommandError(
            f"{len(done.undecryptable)} token(s) could not be decrypted with any key of "
            f"{KEY_VARIABLE} and were left as they are (profiles: "
            f"{', '.join(done.undecryptable)}); workers replace them with a fresh login"
        )
    return 0
