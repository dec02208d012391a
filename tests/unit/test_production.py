"""Production refuses what only development can use: each rule, and its one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from simulator.accounts import DEFAULT_ACCOUNT
from worker.config import load_settings
from worker.production import SIMULATOR_URLS, SIMULATOR_USERNAME, refusal

SHIPPED = Path(__file__).resolve().parents[2] / "config.yaml"
PRODUCTION = {
    "PAYNET_ENV": "production",
    "PAYNET_PASSWORD": "pw-prod-Lk20",
    "PAYNET_TOKEN_KEY": Fernet.generate_key().decode(),
    "PAYNET_BASE_URL": "https://paynet.example",
    "PAYNET_USERNAME": "agent-42",
    "DATABASE_URL": "postgresql://paynet@db/paynet",
}


def test_a_complete_production_configuration_is_accepted() -> None:
    assert refusal(load_settings(SHIPPED, PRODUCTION)) is None


@pytest.mark.parametrize(
    ("unset", "expected"),
    [
        ("DATABASE_URL", "database.url (DATABASE_URL) is SQLite, which production refuses"),
        ("PAYNET_BASE_URL", "paynet.profiles.default.base_url (PAYNET_BASE_URL) is the Paynet "),
        ("PAYNET_USERNAME", "paynet.profiles.default.username (PAYNET_USERNAME) is the simulator"),
        ("PAYNET_TOKEN_KEY", "security.token_keys (PAYNET_TOKEN_KEY) is not set: production"),
    ],
)
def test_production_refuses_a_development_default_naming_its_setting(
    unset: str, expected: str
) -> None:
    env = {name: value for name, value in PRODUCTION.items() if name != unset}
    found = refusal(load_settings(SHIPPED, env))
    assert found is not None
    assert found.startswith(expected)
    assert "\n" not in found


def test_development_accepts_every_default() -> None:
    assert refusal(load_settings(SHIPPED, {"PAYNET_PASSWORD": "pw-dev-1"})) is None


def test_the_refused_defaults_are_the_simulators_and_the_shipped_files() -> None:
    defaults = yaml.safe_load(SHIPPED.read_text())["paynet"]["profiles"]["default"]
    assert defaults["base_url"] == f"${{PAYNET_BASE_URL:-{SIMULATOR_URLS[0]}}}"
    assert defaults["username"] == f"${{PAYNET_USERNAME:-{SIMULATOR_USERNAME}}}"
    assert DEFAULT_ACCOUNT.username == SIMULATOR_USERNAME
