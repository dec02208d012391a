"""Bearer integrations for the tests: their YAML blocks, as an operator would write them, and a
configuration file that adds them to the shipped ``config.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulator.bearer import BearerSimulator
from tests.support.workers import REPO_ROOT


def oauth2_block(
    url: str, secret_variable: str, client_id: str = "gateway-client"
) -> dict[str, Any]:
    """An OAuth2 client-credentials API (RFC 6749 section 4.4): a form, ``expires_in``."""
    return {
        "base_url": url,
        "token": {
            "path": "/oauth/token",
            "format": "form",
            "fields": {"grant_type": "client_credentials", "client_id": client_id},
            "secret_fields": {"client_secret": f"${{{secret_variable}}}"},
        },
        "idempotency_header": "Idempotency-Key",
        "timeouts": {"read": 5, "login": 3},
        "policy": {"wait_timeout": 20},
    }


def multicard_block(
    url: str, secret_variable: str, client_id: str = "gateway-client"
) -> dict[str, Any]:
    """A Multicard-style ``POST /auth``: JSON, ``token``, a local ``expiry`` in UTC+5."""
    return {
        "base_url": url,
        "token": {
            "path": "/auth",
            "format": "json",
            "fields": {"application_id": client_id},
            "secret_fields": {"secret": f"${{{secret_variable}}}"},
            "token_field": "token",
            "expiry": {"at_field": "expiry", "at_utc_offset": "+05:00"},
        },
        "timeouts": {"read": 5, "login": 3},
        "policy": {"wait_timeout": 20},
    }


def config_with(integrations: dict[str, dict[str, Any]], directory: Path) -> Path:
    """The shipped configuration plus ``integrations``, written where a worker can read it."""
    config = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    config["integrations"] = integrations
    path = directory / "config-with-integrations.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def bearer_call(producer: Any, integration: str, path: str = "/api/orders", **kwargs: Any) -> Any:
    """``integration.call`` as a producer sends it, on the integration's own queue."""
    return producer.send_task(
        "integration.call",
        kwargs={"integration": integration, "path": path, **kwargs},
        queue=integration,
    )


def started(simulator: BearerSimulator) -> BearerSimulator:
    return simulator.start()
