"""Settings objects and configuration errors show secrets only as ***."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from worker.config import ConfigError, load_operator_settings, load_settings, parse_settings
from worker.settings import ProfileSettings, Settings

SHIPPED = Path(__file__).resolve().parents[2] / "config.yaml"
PASSWORD = "pw-settings-Vb61-secret"
KEY = Fernet.generate_key().decode()
ENV = {"PAYNET_PASSWORD": PASSWORD, "PAYNET_TOKEN_KEY": KEY}


def shown(error: BaseException) -> str:
    """Everything a traceback printer or an error reporter would show of an exception."""
    return "".join(traceback.format_exception(error)) + repr(error) + str(error)


def test_settings_show_the_password_and_the_keys_as_stars() -> None:
    settings = load_settings(SHIPPED, ENV)
    for text in (
        repr(settings),
        str(settings),
        repr(settings.profile("default")),
        str(settings.security),
        settings.model_dump_json(),
        str(settings.model_dump()),
    ):
        assert PASSWORD not in text
        assert KEY not in text
        assert "***" in text


def test_the_operator_settings_never_hold_the_password_and_show_the_keys_as_stars() -> None:
    settings = load_operator_settings(SHIPPED, ENV)
    for text in (repr(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert PASSWORD not in text
        assert KEY not in text


def test_an_exception_quoting_the_settings_shows_no_secret() -> None:
    settings = load_settings(SHIPPED, ENV)
    error = RuntimeError(f"cannot use {settings.profile('default')!r} with {settings.security}")
    assert PASSWORD not in shown(error)
    assert KEY not in shown(error)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"PAYNET_TERMINAL_ID": "abc"}, "terminal_id"),
        ({"PAYNET_REFRESH_REQUEST_TTL": "-1"}, "refresh_request_ttl"),
        ({"PAYNET_BASE_URL": "ftp://x"}, "base_url"),
        ({"PAYNET_ENV": "staging"}, "environment"),
    ],
)
def test_a_configuration_error_names_the_key_and_shows_no_secret(
    change: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(SHIPPED, {**ENV, **change})
    assert named in str(caught.value)
    assert PASSWORD not in shown(caught.value)
    assert KEY not in shown(caught.value)


def test_a_secret_written_where_it_does_not_belong_is_not_echoed() -> None:
    text = SHIPPED.read_text().replace(
        "terminal_id: ${PAYNET_TERMINAL_ID:-4027096}", f"terminal_id: {PASSWORD}"
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, ENV)
    assert "terminal_id" in str(caught.value)
    assert PASSWORD not in shown(caught.value)


def test_a_validation_error_of_the_settings_classes_never_quotes_input() -> None:
    raw = {
        "paynet": {
            "profiles": {
                "default": {
                    "base_url": "http://x",
                    "username": "u",
                    "password": PASSWORD,
                    "terminal_id": 1,
                }
            }
        },
        "database": {"url": "sqlite://"},
        "redis": {"url": "redis://x"},
        "security": {"token_keys": KEY},
        "token": {"refresh_request_ttl": -1},
    }
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate(raw)
    assert "refresh_request_ttl" in str(caught.value)
    assert PASSWORD not in shown(caught.value)
    assert KEY not in shown(caught.value)
    with pytest.raises(ValidationError) as wrong_type:
        ProfileSettings(base_url="http://x", username="u", password=[PASSWORD], terminal_id=1)  # type: ignore[arg-type]
    assert "password" in str(wrong_type.value)
    assert PASSWORD not in shown(wrong_type.value)
