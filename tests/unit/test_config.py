"""Configuration: interpolation, validation, and errors that name the key but not the secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.config import ConfigError, load_settings, parse_settings

SHIPPED = Path(__file__).resolve().parents[2] / "config.yaml"
SECRET = "pw-very-secret-Zx81"
ENV = {"PAYNET_PASSWORD": SECRET}


def test_the_shipped_file_loads_with_only_the_password_set() -> None:
    settings = load_settings(SHIPPED, ENV)
    profile = settings.profile("default")
    assert profile.password.get_secret_value() == SECRET
    assert profile.terminal_id == 4027096
    assert settings.token.ttl is None
    assert profile.token_placement == "top_level"


def test_variables_override_the_defaults_with_their_types() -> None:
    env = {**ENV, "PAYNET_TERMINAL_ID": "77", "PAYNET_TOKEN_TTL": "600", "REDIS_URL": "redis://h/1"}
    settings = load_settings(SHIPPED, env)
    assert settings.profile("default").terminal_id == 77
    assert settings.token.ttl == 600
    assert settings.redis.url == "redis://h/1"


def test_a_bare_postgresql_url_means_psycopg2() -> None:
    settings = load_settings(SHIPPED, {**ENV, "DATABASE_URL": "postgresql://db:5432/pay"})
    assert settings.database.url == "postgresql+psycopg2://db:5432/pay"


def test_a_missing_password_names_the_variable_and_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(SHIPPED, {})
    assert "PAYNET_PASSWORD" in str(caught.value)
    assert "paynet.profiles.default.password" in str(caught.value)


def test_a_wrong_type_names_the_key_without_echoing_values() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(SHIPPED, {**ENV, "PAYNET_TERMINAL_ID": "abc"})
    assert "paynet.profiles.default.terminal_id" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert "abc" not in str(caught.value)


def test_an_unknown_key_is_refused_by_name() -> None:
    text = SHIPPED.read_text() + "\nsurprise: 1\n"
    with pytest.raises(ConfigError, match="surprise: unknown key"):
        parse_settings(text, ENV)


def test_a_secret_in_an_invalid_place_is_not_printed() -> None:
    text = SHIPPED.read_text().replace("login_path: /v2/user", "login_path: ${PAYNET_PASSWORD}")
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, ENV)
    assert "login_path" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.__context__)


def test_settings_never_show_the_password() -> None:
    settings = load_settings(SHIPPED, ENV)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.profile("default"))


def test_a_processing_window_shorter_than_a_run_of_a_call_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"status_methods\.performTransaction\.max_processing"):
        load_settings(SHIPPED, {**ENV, "PAYNET_MAX_PROCESSING": "60"})


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError, match="line"):
        parse_settings("paynet: [\n", ENV)
