"""What production refuses (``PAYNET_ENV=production``): settings that only development can use.

A pure decision over the loaded settings; the worker stops on the first refusal, in one line
that names the setting (``worker/lifecycle.py``). Each rule is a mistake that would otherwise
pass unnoticed until it costs money:

- SQLite: each pod or host would keep a private token store and ledger, so no token is shared
  and no idempotency key is seen by another worker (a redelivered payment is sent again).
- The Paynet simulator's defaults, which ``config.yaml`` falls back to when a variable is unset:
  a production worker would log in to a stand-in, or send its example username to Paynet.
- No token encryption key: there is no development key file to fall back to in production.
"""

from __future__ import annotations

from typing import Final

from worker.settings import OperatorSettings, Settings

# The simulator's address and example account, as config.yaml's defaults spell them
# (tests/unit/test_production.py keeps these, the simulator and config.yaml in step).
SIMULATOR_URLS: Final = ("http://127.0.0.1:8765", "http://localhost:8765")
SIMULATOR_USERNAME: Final = "username_17627_56530"


def refusal(settings: OperatorSettings | Settings) -> str | None:
    """Why these settings cannot run in production, naming the setting; None when they can
    (and always None outside production)."""
    if settings.security.environment != "production":
        return None
    if settings.database.url.startswith("sqlite"):
        return (
            f"{settings.named('database.url')} is SQLite, which production refuses: every "
            "worker would keep its own token and ledger; give a PostgreSQL URL"
        )
    for name, profile in settings.paynet.profiles.items():
        key = f"paynet.profiles.{name}"
        if profile.base_url in SIMULATOR_URLS:
            return (
                f"{_named(settings, key, 'base_url')} is the Paynet simulator's address "
                f"({profile.base_url}), which production refuses: set Paynet's URL"
            )
        if profile.username == SIMULATOR_USERNAME:
            return (
                f"{_named(settings, key, 'username')} is the simulator's example username, "
                "which production refuses: set the username Paynet gave you"
            )
    if settings.security.token_keys is None:
        return (
            f"{settings.named('security.token_keys')} is not set: production needs a token "
            "encryption key (as the variable, a file named by its _FILE variable, or a file in "
            "PAYNET_SECRETS_DIR)"
        )
    return None


def _named(settings: OperatorSettings | Settings, profile_key: str, field: str) -> str:
    return settings.named(f"{profile_key}.{field}")
