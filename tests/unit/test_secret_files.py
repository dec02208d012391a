"""Secrets from files: ``NAME_FILE`` or a file in ``PAYNET_SECRETS_DIR``, one source per name."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from worker.config import ConfigError, load_infrastructure, load_settings

SHIPPED = Path(__file__).resolve().parents[2] / "config.yaml"
PASSWORD = "pw-from-a-file-Qa73"
KEY = Fernet.generate_key().decode()


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_password_and_key_files_configure_everything_their_newline_stripped(
    tmp_path: Path,
) -> None:
    env = {
        "PAYNET_PASSWORD_FILE": write(tmp_path / "password", PASSWORD + "\n"),
        "PAYNET_TOKEN_KEY_FILE": write(tmp_path / "key", KEY + "\r\n"),
        "DATABASE_URL_FILE": write(tmp_path / "db", "postgresql://u:pw@db/paynet\n"),
    }
    settings = load_settings(SHIPPED, env)
    assert settings.profile("default").password.get_secret_value() == PASSWORD
    assert settings.security.token_keys is not None
    assert settings.security.token_keys.get_secret_value() == KEY
    assert settings.database.url == "postgresql+psycopg2://u:pw@db/paynet"


def test_a_secrets_directory_holds_one_file_per_variable(tmp_path: Path) -> None:
    write(tmp_path / "PAYNET_PASSWORD", PASSWORD)
    write(tmp_path / "REDIS_URL", "rediss://:pw@redis:6380/2\n")
    settings = load_settings(SHIPPED, {"PAYNET_SECRETS_DIR": str(tmp_path)})
    assert settings.profile("default").password.get_secret_value() == PASSWORD
    assert settings.redis.url == "rediss://:pw@redis:6380/2"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"PAYNET_PASSWORD": PASSWORD}, "PAYNET_PASSWORD, PAYNET_PASSWORD_FILE"),
        ({"PAYNET_SECRETS_DIR": "."}, "PAYNET_PASSWORD_FILE, PAYNET_SECRETS_DIR/PAYNET_PASSWORD"),
    ],
)
def test_a_secret_given_twice_is_refused_naming_both_sources_never_the_value(
    tmp_path: Path, extra: dict[str, str], named: str
) -> None:
    write(tmp_path / "PAYNET_PASSWORD", PASSWORD)
    env = {"PAYNET_PASSWORD_FILE": str(tmp_path / "PAYNET_PASSWORD"), **extra}
    if "PAYNET_SECRETS_DIR" in env:
        env["PAYNET_SECRETS_DIR"] = str(tmp_path)
    with pytest.raises(ConfigError) as raised:
        load_settings(SHIPPED, env)
    assert str(raised.value) == (
        f"paynet.profiles.default.password: given more than once ({named}): keep one"
    )
    assert PASSWORD not in str(raised.value)


def test_an_unreadable_secret_file_names_the_variable_and_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError) as raised:
        load_settings(SHIPPED, {"PAYNET_PASSWORD_FILE": str(missing)})
    assert str(raised.value) == (
        "paynet.profiles.default.password: PAYNET_PASSWORD_FILE: "
        f"cannot read {missing}: No such file or directory"
    )


def test_a_process_that_needs_no_password_never_opens_its_file(tmp_path: Path) -> None:
    env = {"PAYNET_PASSWORD_FILE": str(tmp_path / "not-mounted-here")}
    assert load_infrastructure(SHIPPED, env).redis.url == "redis://127.0.0.1:6379/0"
