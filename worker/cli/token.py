"""``paynet-gateway token ...``: what operators may see of tokens (never the token itself).

None of these needs a Paynet password: the workers log in. They read the profiles' names, the
token keys (``PAYNET_TOKEN_KEY``), the database and Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click

from worker.calls.refreshes import RefreshRequest
from worker.cli.common import FAILED, CommandError, database_errors, group, timeout_option
from worker.cli.producer import Deadline, producer, sending
from worker.config import REPO_ROOT, get_operator_settings
from worker.core.clock import utcnow
from worker.db.schema import SchemaMismatch, ensure_compatible
from worker.lifecycle import open_database
from worker.queues import token_queue
from worker.tokens.crypto import (
    KEY_VARIABLE,
    TokenKeyError,
    cipher_from_settings,
    new_key,
    seal_from_settings,
    token_keys,
)
from worker.tokens.record import Failure
from worker.tokens.store import TokenStore


@group("token", "Inspect and manage Paynet tokens.")
def token() -> None:
    """Inspect and manage Paynet tokens."""


@contextmanager
def _store(doing: str) -> Iterator[TokenStore]:
    """The token store, its schema checked; every failure a one-line reason."""
    settings = get_operator_settings()
    try:
        cipher = cipher_from_settings(settings.security, REPO_ROOT)
    except TokenKeyError as exc:
        raise CommandError(str(exc)) from None
    engine = open_database(settings)
    try:
        with database_errors(settings, doing):
            ensure_compatible(engine)
            yield TokenStore(engine, cipher)
    except SchemaMismatch as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


@token.command("status", help="Per profile and integration: generation, age, expiry, last failure.")
def run_status() -> int:
    now = utcnow()
    settings = get_operator_settings()
    with _store("token status") as store:
        for profile in [*settings.paynet.profiles, *settings.integrations]:
            record = store.load(profile)
            age = f"{(now - record.issued_at).total_seconds():.0f}s" if record.issued_at else "-"
            rejected = _last_rejection(profile)
            state = "present" if record.token else "none"
            if record.token and rejected and rejected[0] == record.generation:
                state = "rejected"  # Paynet refused it; a refresh is on its way or failed
            click.echo(
                f"profile={profile} token={state} generation={record.generation} "
                f"issued={_when(record.issued_at)} age={age} expires={_when(record.expires_at)}"
            )
            if rejected:
                click.echo(f"  last rejection: generation {rejected[0]} at {rejected[1]}")
            failure = record.failure
            if failure is not None:
                kind = "permanent" if failure.permanent else "transient"
                click.echo(
                    f"  last failure: cause={failure.cause} ({kind}) at={_when(failure.at)} "
                    f"consecutive={failure.consecutive}: {failure.detail}"
                )
    return 0


def _last_rejection(profile: str) -> tuple[int, str] | None:
    """What the workers noted in Redis of the last rejected token; None if none or unreachable."""
    from redis import Redis

    from worker.core.outages import Unavailable
    from worker.tokens.coordination import Coordinator

    settings = get_operator_settings()
    client = Redis.from_url(settings.redis.url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return Coordinator(client, settings.token, lambda *_: None).last_rejection(profile)
    except Unavailable:
        return None
    finally:
        client.close()


@token.command(
    "refresh",
    help="Force a login now, through the same lock and login budget.",
    epilog="Needs a running worker: the refresh task runs there, under the lock.",
)
@click.option(
    "--profile",
    default="default",
    show_default=True,
    help="The Paynet profile, or an integration's name.",
)
@timeout_option(30.0, "Seconds for the whole command: sending, and waiting for the new token.")
def run_refresh(profile: str, timeout: float) -> int:
    """Lift a refusal's cool-down and log in now; report the new generation or the failure."""
    from worker import lifecycle

    deadline = Deadline(timeout)
    settings = get_operator_settings()
    if profile not in settings.paynet.profiles and profile not in settings.integrations:
        raise CommandError(f"unknown profile {profile!r}")
    with _store("token refresh") as store:
        before = store.load(profile)
        store.clear_failure(profile)
        request = RefreshRequest(profile, before.generation, force=True, operator=True)
        seal = seal_from_settings(settings.security, REPO_ROOT)
        app = producer(max(deadline.left(), 0.1))
        with sending():
            queue = token_queue(profile, settings.integrations)
            lifecycle.send_refresh(app, seal, request, queue=queue)
        return _await_generation(store, profile, before.generation, before.failure, deadline)


def _await_generation(
    store: TokenStore, profile: str, before: int, failure: Failure | None, deadline: Deadline
) -> int:
    while not deadline.passed():
        record = store.load(profile)
        if record.generation > before:
            click.echo(f"profile={profile} refreshed: generation {record.generation}")
            return 0
        latest = record.failure
        if latest is not None and _new_failure(failure, latest):
            raise CommandError(f"refresh failed: cause={latest.cause}: {latest.detail}", FAILED)
        time.sleep(min(0.2, deadline.left()))
    last = store.load(profile).failure
    reason = f"; last failure: cause={last.cause}: {last.detail}" if last else ""
    raise CommandError(
        f"no new token within {deadline.seconds:g} s (is a worker running?){reason}", FAILED
    )


def _new_failure(before: Failure | None, now: Failure | None) -> bool:
    """A failure recorded after the command began (the store counts and stamps each one)."""
    if now is None:
        return False
    return before is None or (now.at, now.consecutive) != (before.at, before.consecutive)


@token.command("new-key", help="Print a new token encryption key.")
def run_new_key() -> int:
    click.echo(new_key())
    return 0


ROTATION = (
    "Rotate in two phases, each a restart of every process. Phase 1: add the new key second "
    f"({KEY_VARIABLE}=old,new) for every worker and every host that runs 'token refresh'. "
    "Phase 2, once all of them have both keys: put it first (new,old) everywhere, restart, then "
    "run this command. Drop the old key only after that, once the broker's visibility timeout "
    "has passed since the last restart of phase 2 (docs/security.md)."
)


@token.command(
    "rotate-key",
    help=f"Re-encrypt every stored token with the first key of {KEY_VARIABLE}.",
    epilog=ROTATION,
)
def run_rotate_key() -> int:
    """Prints counts and profile names only: never a key, never a token."""
    if len(set(_configured_keys())) < 2:
        raise CommandError(
            f"{KEY_VARIABLE} holds a single key: nothing to rotate to "
            "(put the new key first and the old one after it; see --help)"
        )
    with _store("token rotate-key") as store:
        done = store.rewrap_all()
    click.echo(f"re-encrypted {done.rotated} token(s) with the first key of {KEY_VARIABLE}")
    if done.undecryptable:
        raise CommandError(
            f"{len(done.undecryptable)} token(s) could not be decrypted with any key of "
            f"{KEY_VARIABLE} and were left as they are (profiles: "
            f"{', '.join(done.undecryptable)}); workers replace them with a fresh login"
        )
    return 0


def _configured_keys() -> list[bytes]:
    try:
        return token_keys(get_operator_settings().security, REPO_ROOT)
    except TokenKeyError as exc:
        raise CommandError(str(exc)) from None
