"""``paynet-gateway token ...``: what operators may see of tokens (never the token itself)."""

from __future__ import annotations

import argparse
from datetime import datetime

from worker.cli.common import CommandError, Subparsers, add_command
from worker.config import REPO_ROOT, get_settings
from worker.crypto import KEY_VARIABLE, TokenKeyError, cipher_from_settings, new_key
from worker.database import make_engine
from worker.token_store import Failure, TokenStore, utcnow


def register(subparsers: Subparsers) -> None:
    token = add_command(subparsers, "token", "Inspect and manage Paynet tokens.")
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = add_command(actions, "status", "Per profile: generation, age, expiry, last failure.")
    status.set_defaults(handler=run_status)
    refresh = add_command(
        actions, "refresh", "Force a login now, through the same lock and login budget."
    )
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


def _store() -> TokenStore:
    settings = get_settings()
    try:
        cipher = cipher_from_settings(settings.security, REPO_ROOT)
    except TokenKeyError as exc:
        raise CommandError(str(exc)) from None
    return TokenStore(make_engine(settings.database.url), cipher)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def run_status(_args: argparse.Namespace) -> int:
    settings = get_settings()
    store = _store()
    now = utcnow()
    try:
        for profile in settings.paynet.profiles:
            record = store.load(profile)
            age = f"{(now - record.issued_at).total_seconds():.0f}s" if record.issued_at else "-"
            state = "present" if record.token else "none"
            print(
                f"profile={profile} token={state} generation={record.generation} "
                f"issued={_when(record.issued_at)} age={age} expires={_when(record.expires_at)}"
            )
            failure = record.failure
            if failure is not None:
                kind = "permanent" if failure.permanent else "transient"
                print(
                    f"  last failure: cause={failure.cause} ({kind}) at={_when(failure.at)} "
                    f"consecutive={failure.consecutive}: {failure.detail}"
                )
    finally:
        store.engine.dispose()
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    """Lift a refusal's cool-down and log in now; report the new generation or the failure."""
    import time

    from worker.app import app

    settings = get_settings()
    if args.profile not in settings.paynet.profiles:
        raise CommandError(f"unknown profile {args.profile!r}")
    store = _store()
    try:
        before = store.load(args.profile)
        store.clear_failure(args.profile)
        app.send_task(
            "paynet.refresh_token",
            kwargs={"profile": args.profile, "stale_generation": before.generation, "force": True},
            queue="paynet.token",
        )
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            record = store.load(args.profile)
            if record.generation > before.generation:
                print(f"profile={args.profile} refreshed: generation {record.generation}")
                return 0
            if _new_failure(before.failure, record.failure):
                assert record.failure is not None
                raise CommandError(
                    f"refresh failed: cause={record.failure.cause}: {record.failure.detail}"
                )
            time.sleep(0.2)
        last = store.load(args.profile).failure
    finally:
        store.engine.dispose()
    reason = f"; last failure: cause={last.cause}: {last.detail}" if last else ""
    raise CommandError(f"no new token within {args.timeout:g} s (is a worker running?){reason}")


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
    store = _store()
    try:
        done = store.rewrap_all()
    finally:
        store.engine.dispose()
    print(f"re-encrypted {done.rotated} token(s) with the first key of {KEY_VARIABLE}")
    if done.undecryptable:
        raise CommandError(
            f"{len(done.undecryptable)} token(s) could not be decrypted with any key of "
            f"{KEY_VARIABLE} and were left as they are (profiles: "
            f"{', '.join(done.undecryptable)}); workers replace them with a fresh login"
        )
    return 0
